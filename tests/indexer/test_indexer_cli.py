"""`python -m indexer`'s options come from IndexerSettings (indexer/__main__.py): each option and
its env var set the same field, an option wins over its env var, `--help` names both, and the
options the README, the Makefile and the tests use keep working. No Weaviate: parsing only."""

from pathlib import Path

import pytest

from indexer import __main__ as cli
from indexer.settings import IndexerSettings

# (the options, the env var and value that mean the same, the field, its value)
SAME = [
    (["--limit", "7"], ("INDEX_LIMIT", "7"), "index_limit", 7),
    (["--index-limit", "7"], ("INDEX_LIMIT", "7"), "index_limit", 7),
    (["--sources", "fsdd"], ("INDEX_SOURCES", "fsdd"), "index_sources", "fsdd"),
    (["--index-sources", "mnist"], ("INDEX_SOURCES", "mnist"), "index_sources", "mnist"),
    (["--batch-size", "64"], ("BATCH_SIZE", "64"), "batch_size", 64),
    (["--recreate"], ("RECREATE", "true"), "recreate", True),
    (["--collection", "Other"], ("COLLECTION", "Other"), "collection", "Other"),
    (["--checkpoint", "x.pt"], ("CHECKPOINT", "x.pt"), "checkpoint", Path("x.pt")),
    (["--data-dir", "/data"], ("DATA_DIR", "/data"), "data_dir", Path("/data")),
    (["--cache-dir", "/cache"], ("DIGITBRIDGE_CACHE", "/cache"), "cache_dir", Path("/cache")),
]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No .env file and none of the tested variables: the defaults, unless a test sets one."""
    monkeypatch.chdir(tmp_path)
    for _, (name, _), _, _ in SAME:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("options", "env", "field", "value"), SAME)
def test_an_option_and_its_env_var_give_the_same_setting(
    monkeypatch: pytest.MonkeyPatch, options: list[str], env: tuple[str, str], field: str, value: object
) -> None:
    from_option = cli.parse_args(options)
    monkeypatch.setenv(*env)
    from_env = cli.parse_args([])
    assert getattr(from_option, field) == getattr(from_env, field) == value
    assert getattr(IndexerSettings(), field) == value  # the env var alone, without a command line


def test_an_option_wins_over_its_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCH_SIZE", "32")
    monkeypatch.setenv("INDEX_LIMIT", "5")
    settings = cli.parse_args(["--batch-size", "128"])
    assert (settings.batch_size, settings.index_limit) == (128, 5)


def test_no_options_leave_the_defaults() -> None:
    settings = cli.parse_args([])
    assert (settings.batch_size, settings.sources, settings.index_limit, settings.recreate) == (
        256,
        ["mnist", "fsdd"],
        None,
        False,
    )


def test_help_names_every_option_beside_its_env_var(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.parse_args(["--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith("usage: python -m indexer")
    for option, env in [
        ("--batch-size", "BATCH_SIZE"),
        ("--index-sources str, --sources", "INDEX_SOURCES"),
        ("--index-limit int, --limit", "INDEX_LIMIT"),
        ("--recreate", "RECREATE"),
        ("--collection", "COLLECTION"),
        ("--weaviate-url", "WEAVIATE_URL"),
        ("--checkpoint", "CHECKPOINT"),
    ]:
        assert option in text and f"[env: {env}]" in text, option
    for name in IndexerSettings.model_fields:
        assert name.replace("_", "-") in text or name == "cache_dir", name


def test_a_wrong_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        cli.parse_args(["--no-such-option"])
    assert done.value.code == 2 and "unrecognized arguments: --no-such-option" in capsys.readouterr().err


WRONG_VALUES = [["--limit", "many"], ["--sources", "mnist,cifar"], ["--batch-size", "0"]]


@pytest.mark.parametrize("options", WRONG_VALUES)
def test_a_wrong_value_exits_2_and_names_the_setting(
    capsys: pytest.CaptureFixture[str], options: list[str]
) -> None:
    assert cli.main(options) == 2
    err = capsys.readouterr().err
    assert err.startswith("indexer: ") and ("index_limit" in err or "sources" in err or "batch_size" in err)
