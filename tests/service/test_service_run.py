"""`python -m launcher` (make run): index when needed, serve, stop cleanly on Ctrl-C."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from launcher.run import indexer_settings
from service.settings import ServiceSettings
from tests.service.helpers import wait_for
from tests.weaviate_server import ROOT, embedded_settings, env_for, free_port, wait_closed


def test_make_run_indexes_the_collection_it_serves(
    small_index: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index `make run` fills is the one it checks and serves, whatever else the env says."""
    for name in ("COLLECTION", "WEAVIATE_PORT", "CHECKPOINT", "DATA_DIR"):
        monkeypatch.setenv(name, "999" if name == "WEAVIATE_PORT" else f"/elsewhere/{name}")
    monkeypatch.setenv("INDEX_LIMIT", "7")  # the indexer's own knobs still come from the env
    derived = indexer_settings(small_index)
    for field in ("collection", "weaviate_port", "weaviate_grpc_port", "weaviate_data_dir", "checkpoint"):
        assert getattr(derived, field) == getattr(small_index, field), field
    assert derived.data_dir == small_index.data_dir
    assert derived.index_limit == 7


def _start(env: dict[str, str], log: Path) -> subprocess.Popen:
    # A new session, so that SIGINT to its process group is what Ctrl-C in a terminal does.
    with log.open("w") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "launcher"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _ctrl_c(proc: subprocess.Popen) -> int:
    os.killpg(proc.pid, signal.SIGINT)
    return proc.wait(timeout=60)


@pytest.mark.slow
def test_make_run_indexes_once_serves_and_stops_cleanly(tmp_path: Path, service_checkpoint: Path) -> None:
    weaviate_settings = embedded_settings(
        tmp_path / "weaviate", collection="RunSvc", checkpoint=service_checkpoint
    )
    port = free_port()
    env = env_for(weaviate_settings, PORT=str(port), INDEX_LIMIT="20", LOG_LEVEL="info")
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    for attempt in ("first", "second"):
        log = tmp_path / f"{attempt}.log"
        proc = _start(env, log)
        try:
            wait_for(lambda: ready() or proc.poll() is not None, 180, "the service to get ready")  # noqa: B023
            assert proc.poll() is None, log.read_text()
            r = httpx.get(f"{url}/stats", timeout=5)
            assert r.json()["total"] == 40, r.text
            assert "x-request-id" in r.headers
        finally:
            code = _ctrl_c(proc) if proc.poll() is None else proc.returncode
        text = log.read_text()
        assert code == 0, text
        assert wait_closed(weaviate_settings.weaviate_port), "Ctrl-C left the embedded Weaviate running"
        assert '"msg":"stopped"' in text, text
        if attempt == "first":
            assert "indexing with model version" in text, text
        else:
            assert "not re-indexing" in text and "indexing with" not in text, text
        assert '"route":"/readyz"' in text  # the JSON request log line
