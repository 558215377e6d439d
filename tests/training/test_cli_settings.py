"""Training's commands read their options from their settings classes (TrainSettings,
EvaluateSettings, OodSettings): each option and its env var set the same field, the command's
own options take its env prefix while DATA_DIR, CHECKPOINT, DEVICE and DIGITBRIDGE_CACHE keep
their one name, `--help` names both, and the options the Makefile and the docs use still work.
Parsing only: nothing is trained or evaluated."""

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings, CliApp

from training.evaluate import EvaluateSettings
from training.ood.__main__ import OodSettings
from training.train import TrainSettings

# (settings class, the options, the env var and value that mean the same, the field, its value)
SAME = [
    (TrainSettings, ["--steps", "5"], ("TRAIN_STEPS", "5"), "steps", 5),
    (TrainSettings, ["--batch-size", "8"], ("TRAIN_BATCH_SIZE", "8"), "batch_size", 8),
    (TrainSettings, ["--eval-every", "2"], ("TRAIN_EVAL_EVERY", "2"), "eval_every", 2),
    (TrainSettings, ["--out", "m.pt"], ("TRAIN_OUT", "m.pt"), "out", Path("m.pt")),
    (TrainSettings, ["--data-dir", "/d"], ("DATA_DIR", "/d"), "data_dir", Path("/d")),
    (EvaluateSettings, ["--json", "m.json"], ("EVALUATE_JSON_PATH", "m.json"), "json_path", Path("m.json")),
    (EvaluateSettings, ["--checkpoint", "c.pt"], ("CHECKPOINT", "c.pt"), "checkpoint", Path("c.pt")),
    (EvaluateSettings, ["--device", "cpu"], ("DEVICE", "cpu"), "device", "cpu"),
    (OodSettings, ["--json", "o.json"], ("OOD_JSON_PATH", "o.json"), "json_path", Path("o.json")),
    (OodSettings, ["--low-res-grid", "g.png"], ("OOD_LOW_RES_GRID", "g.png"), "low_res_grid", Path("g.png")),
    (OodSettings, ["--cache-dir", "/c"], ("DIGITBRIDGE_CACHE", "/c"), "cache_dir", Path("/c")),
]
TESTED_ENV = {env for _, _, (env, _), _, _ in SAME} | {"BATCH_SIZE", "CHECKPOINT", "TRAIN_DATA_DIR"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No .env file and none of the tested variables: the defaults, unless a test sets one."""
    monkeypatch.chdir(tmp_path)
    for name in TESTED_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("cls", "options", "env", "field", "value"), SAME)
def test_an_option_and_its_env_var_give_the_same_setting(
    monkeypatch: pytest.MonkeyPatch,
    cls: type[BaseSettings],
    options: list[str],
    env: tuple[str, str],
    field: str,
    value: object,
) -> None:
    from_option = CliApp.run(cls, cli_args=options)
    monkeypatch.setenv(*env)
    from_env = CliApp.run(cls, cli_args=[])
    assert getattr(from_option, field) == getattr(from_env, field) == value


def test_the_shared_settings_keep_their_names_under_a_command_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATCH_SIZE", "512")  # the indexer's: never training's
    monkeypatch.setenv("TRAIN_DATA_DIR", "/not/this")  # DATA_DIR has one name
    monkeypatch.setenv("CHECKPOINT", "served.pt")
    train = TrainSettings()
    assert train.batch_size == 64 and train.data_dir != Path("/not/this")
    assert EvaluateSettings().checkpoint == OodSettings().checkpoint == Path("served.pt")


def test_an_option_wins_over_its_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAIN_STEPS", "100")
    monkeypatch.setenv("TRAIN_SEED", "3")
    settings = CliApp.run(TrainSettings, cli_args=["--steps", "1500", "--eval-every", "500"])
    assert (settings.steps, settings.eval_every, settings.seed) == (1500, 500, 3)


@pytest.mark.parametrize(
    ("cls", "prog", "named"),
    [
        (TrainSettings, "python -m training.train", [("--steps", "TRAIN_STEPS"), ("--data-dir", "DATA_DIR")]),
        (
            EvaluateSettings,
            "python -m training.evaluate",
            [("--json-path Path, --json", "EVALUATE_JSON_PATH"), ("--checkpoint", "CHECKPOINT")],
        ),
        (
            OodSettings,
            "python -m training.ood",
            [("--log-mel-grid", "OOD_LOG_MEL_GRID"), ("--json", "OOD_JSON_PATH"), ("--device", "DEVICE")],
        ),
    ],
)
def test_help_names_every_option_beside_its_env_var(
    capsys: pytest.CaptureFixture[str], cls: type[BaseSettings], prog: str, named: list[tuple[str, str]]
) -> None:
    with pytest.raises(SystemExit) as done:
        CliApp.run(cls, cli_args=["--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert text.startswith(f"usage: {prog}")
    for option, env in named:
        assert option in text and f"[env: {env}]" in text, option
    for name in cls.model_fields:
        assert name.replace("_", "-") in text or name == "cache_dir", name


def test_a_wrong_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        CliApp.run(TrainSettings, cli_args=["--no-such-option", "1"])
    assert done.value.code == 2 and "unrecognized arguments" in capsys.readouterr().err
