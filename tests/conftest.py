"""Session-wide fixtures: one real Weaviate server per test session.

* `weaviate_settings` (session): a `store.StoreSettings` for an embedded Weaviate started
  through the project's own embedded path (`store.connect`, the binary `make weaviate` builds)
  on free ports, with a throw-away data folder, DATA_DIR from the environment (default
  ../shared/data) and device cpu. Build other settings from it with
  `weaviate_settings.model_copy(update={...})` or `ServiceSettings(**weaviate_settings.model_dump())`;
  use your own `collection` name per test module so tests do not see each other's objects.
* `weaviate_client` (session): an open client to that server. Holding it keeps the server up
  for the whole session; closing it at the end (last user) stops the server.
* `untrained_checkpoint` (session): a checkpoint of the real encoder architecture with
  random weights (seed 0), for tests of plumbing that must not wait for training.
* `plumbing_checkpoint` (session): the committed checkpoint, or the untrained one when there is
  none (only then built: an export costs ~10 s), for tests where any real checkpoint does.
* `full_index` (session): the whole validation set indexed by the indexer's pipeline into the
  collection FULL_COLLECTION of that server, with the committed checkpoint (the untrained one
  when there is none): its settings and the run's report. Read it; never change it.
* `embedding_memo` (session) and `remembered_embeddings` (patches training's embed_bytes with
  it): the validation set embedded once per session (tests/full_set.py).

Any other process started with `tests.weaviate_server.env_for(settings)` shares the server.

`make test` runs the suite on pytest-xdist workers (`-n 3 --dist loadfile`); each worker is a
session of its own, with its own server. A module's tests stay on one worker (its module
fixtures are built once); the modules in SHARED_SESSION count as one module, since they share
a costly session fixture (the full index, the validation set's embeddings) that one worker
then builds once. Workers hand out those first, then modules with slow tests (see
`pytest_collection_modifyitems`; `--no-loadscope-reorder` keeps that order).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import weaviate

import store
from indexer import pipeline
from indexer.settings import IndexerSettings
from tests.full_set import EmbeddingMemo
from tests.weaviate_server import embedded_settings, wait_closed

REPO_CHECKPOINT = Path("models/checkpoints/digitbridge.pt")
FULL_COLLECTION = "Full"


# module -> the unit it runs in, when that is not the module alone
SHARED_SESSION = dict.fromkeys(
    [
        "tests/indexer/test_indexer_run.py",
        "tests/models/test_checkpoint.py",
        "tests/models/test_format_retrieval.py",
        "tests/service/test_service_acceptance.py",
        "tests/service/test_service_supervised.py",
        "tests/training/test_ood.py",
    ],
    "the full validation set",
)


def _unit(nodeid: str) -> str:
    module = nodeid.split("::")[0]
    return SHARED_SESSION.get(module, module)


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """`--dist loadfile` with the SHARED_SESSION modules as one file (see the module doc)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadFileScheduling

    class SharedSessionScheduling(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _unit(nodeid)

    return SharedSessionScheduling(config, log)


@pytest.hookimpl(trylast=True)  # after the conftests below, which may rename tests
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """No two tests share a nodeid (xdist would run only one of them); on xdist workers, the
    shared units first, then units with slow tests, each in collection order."""
    nodeids = [item.nodeid for item in items]
    twins = sorted({n for n in nodeids if nodeids.count(n) > 1})
    assert not twins, f"tests sharing a nodeid (pytest-xdist would run one of each): {twins}"
    if not hasattr(config, "workerinput"):
        return
    slow = {_unit(item.nodeid) for item in items if item.get_closest_marker("slow")}
    shared = set(SHARED_SESSION.values())
    items.sort(key=lambda item: (_unit(item.nodeid) not in shared, _unit(item.nodeid) not in slow))


@pytest.fixture(scope="session")
def _weaviate_session(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[store.StoreSettings, weaviate.WeaviateClient]]:
    settings = embedded_settings(tmp_path_factory.mktemp("weaviate"))
    client = store.connect(settings)
    yield settings, client
    client.close()
    assert wait_closed(settings.weaviate_port), "the test Weaviate server did not stop"


@pytest.fixture(scope="session")
def weaviate_settings(
    _weaviate_session: tuple[store.StoreSettings, weaviate.WeaviateClient],
) -> store.StoreSettings:
    return _weaviate_session[0]


@pytest.fixture(scope="session")
def weaviate_client(
    _weaviate_session: tuple[store.StoreSettings, weaviate.WeaviateClient],
) -> weaviate.WeaviateClient:
    return _weaviate_session[1]


def make_checkpoint(path: Path, seed: int) -> Path:
    """Random-weight checkpoint of the real architecture (its model version differs per seed),
    with its ONNX export beside it, as training writes them."""
    import torch

    from models.encoder_config import EncoderConfig
    from models.encoders import DigitEncoders, save_checkpoint
    from training.export import export_onnx

    torch.manual_seed(seed)
    save_checkpoint(DigitEncoders(EncoderConfig()), path, {"note": f"untrained, seed {seed}, for tests"})
    export_onnx(path)
    return path


@pytest.fixture(scope="session")
def untrained_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("checkpoints") / "untrained-0.pt", seed=0)


@pytest.fixture(scope="session")
def plumbing_checkpoint(request: pytest.FixtureRequest) -> Path:
    if REPO_CHECKPOINT.is_file():
        return REPO_CHECKPOINT.resolve()
    return Path(request.getfixturevalue("untrained_checkpoint"))


@pytest.fixture(scope="session")
def full_index(
    weaviate_settings: store.StoreSettings, plumbing_checkpoint: Path
) -> tuple[IndexerSettings, pipeline.Report]:
    values = {
        **weaviate_settings.model_dump(),
        "collection": FULL_COLLECTION,
        "checkpoint": plumbing_checkpoint,
    }
    settings = IndexerSettings(**values, recreate=True)
    return settings, pipeline.run(settings, progress=False)


@pytest.fixture(scope="session")
def embedding_memo() -> EmbeddingMemo:
    return EmbeddingMemo()


@pytest.fixture
def remembered_embeddings(embedding_memo: EmbeddingMemo, monkeypatch: pytest.MonkeyPatch) -> EmbeddingMemo:
    """training.evaluate's and training.ood.report's embed_bytes answer from the session's memo."""
    import training.evaluate
    import training.ood.report

    monkeypatch.setattr(training.evaluate, "embed_bytes", embedding_memo.embed_bytes)
    monkeypatch.setattr(training.ood.report, "embed_bytes", embedding_memo.embed_bytes)
    return embedding_memo
