"""The embedded server is supervised: killed while a client holds a lease, it is started again,
the client works again, and every object is findable by its own vector."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import store
from store.embedded import server
from tests.store.test_crash_safety import objects
from tests.weaviate_server import embedded_settings, wait_closed

N = 600
RECOVERY_BOUND_S = 30.0  # ready again within 30 s, every object there and findable


def wait_status(settings: store.StoreSettings, restarts: int, seen: set[str]) -> store.SupervisorStatus:
    """Until the supervisor reports 'up' after `restarts` restarts; collects the states it passed."""
    deadline = time.monotonic() + RECOVERY_BOUND_S
    while True:
        status = store.supervisor_status(settings)
        assert status is not None
        seen.add(status.state.split(":")[0])
        if status.up and status.restarts == restarts:
            return status
        assert time.monotonic() < deadline, f"not up again within {RECOVERY_BOUND_S}s: {status}"
        time.sleep(0.02)


def kill_server(settings: store.StoreSettings) -> tuple[int, float]:
    pid = store.server_pid(settings)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    return pid, time.monotonic()


@pytest.mark.slow
def test_a_killed_server_is_restarted_and_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = embedded_settings(tmp_path / "data", collection="Supervised")
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(N, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

    client = store.connect(settings, supervised=True)
    try:
        collection = store.ensure_collection(client, settings)
        batch = objects(vectors)
        for start in range(0, N, 256):
            assert not collection.data.insert_many(batch[start : start + 256]).errors
        status = store.supervisor_status(settings)
        assert status is not None and status.up and status.restarts == 0

        # 1. SIGKILL right after the import: restarted, checked, the same client works again.
        old_pid, killed = kill_server(settings)
        seen: set[str] = set()
        status = wait_status(settings, restarts=1, seen=seen)
        up_after = time.monotonic() - killed
        assert "restarting" in seen
        assert store.server_pid(settings) not in (None, old_pid)
        check = status.checks["Supervised"]
        assert check.objects == N and check.ok and check.problems() == []
        hit = store.search(collection, vectors[0], "image", limit=1)  # the client we held all along
        answered_after = time.monotonic() - killed
        assert hit[0].id == str(store.object_uuid("crash", "t", "0"))
        for i in range(N):
            (hit,) = store.search(collection, vectors[i], "image" if i % 2 == 0 else "audio", limit=1)
            assert hit.id == str(store.object_uuid("crash", "t", str(i))), i
        print(
            f"\nSIGKILL -> supervisor up {up_after:.1f}s, first search answered {answered_after:.1f}s; "
            f"vector-index check {check.seconds:.2f}s over {check.objects} objects, "
            f"{len(check.missing)} missing"
        )

        # 2. A restart that fails says why and is retried with backoff until it works.
        monkeypatch.setattr(server, "WEAVIATE_VERSION", "1.0.0")  # a binary nobody built
        kill_server(settings)
        deadline = time.monotonic() + RECOVERY_BOUND_S
        while "make weaviate" not in (state := store.supervisor_status(settings).state):  # type: ignore[union-attr]
            assert time.monotonic() < deadline, state
            time.sleep(0.05)
        assert state.startswith("down: ")
        monkeypatch.undo()
        wait_status(settings, restarts=2, seen=set())
        assert len(store.search(collection, vectors[1], "audio", limit=1)) == 1
    finally:
        client.close()  # the last user: stops supervising, then the server
    assert wait_closed(settings.weaviate_port)
    assert store.supervisor_status(settings) is None and store.server_pid(settings) is None


def test_a_remote_weaviate_is_not_supervised(weaviate_settings: store.StoreSettings) -> None:
    key = (weaviate_settings.weaviate_data_dir / ".api-key").read_text().strip()
    url = f"http://127.0.0.1:{weaviate_settings.weaviate_port}"
    remote = store.StoreSettings(
        **{**weaviate_settings.model_dump(), "weaviate_url": url, "weaviate_api_key": key}
    )
    watchers = sum(t.name == "weaviate-supervisor" for t in threading.enumerate())
    client = store.connect(remote, supervised=True)
    try:
        assert client.is_ready()
        assert sum(t.name == "weaviate-supervisor" for t in threading.enumerate()) == watchers
        assert store.supervisor_status(remote) is None
    finally:
        client.close()
