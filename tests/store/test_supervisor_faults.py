"""The supervisor cannot die silently, and the embedded server's odd states are cleaned up:
a stray file among the leases, an unexpected exception, two threads reaping one child, a
server alive but missing a listener, a server SIGKILLed at shutdown, a restarted server whose
first client failed."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import store
from store.embedded import server, server_process
from tests.store.test_crash_safety import objects
from tests.store.test_supervisor import kill_server
from tests.weaviate_server import embedded_settings, wait_closed

N = 300
BOUND_S = 30.0


def fill(settings: store.StoreSettings, client: object) -> np.ndarray:
    vectors = np.random.default_rng(3).normal(size=(N, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    collection = store.ensure_collection(client, settings)  # type: ignore[arg-type]
    assert not collection.data.insert_many(objects(vectors)).errors
    return vectors


def wait_state(
    settings: store.StoreSettings,
    done: Callable[[store.SupervisorStatus], bool],
    seen: list[str],
    bound_s: float = BOUND_S,
) -> str:
    """Until done(state) is true; records every state passed through."""
    deadline = time.monotonic() + bound_s
    while True:
        status = store.supervisor_status(settings)
        assert status is not None
        if not seen or seen[-1] != status.state:
            seen.append(status.state)
        if done(status):
            return status.state
        assert time.monotonic() < deadline, f"not there within {bound_s}s; states: {seen}"
        time.sleep(0.02)


def test_two_threads_reaping_one_child_do_not_raise() -> None:
    """Both see the child exited; before, the second `del` raised KeyError (in the supervisor)."""
    barrier = threading.Barrier(2)

    class Exited:  # an exited child whose poll() lets both threads past the check at once
        def poll(self) -> int:
            barrier.wait(5)
            return 0

    pid = 2**22 + 7  # above pid_max: no such process
    server_process.children[pid] = Exited()  # type: ignore[assignment]
    errors: list[BaseException] = []

    def reap() -> None:
        try:
            assert not server_process.alive(pid)
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=reap) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and pid not in server_process.children


@pytest.mark.slow
def test_stray_lease_file_and_unexpected_errors_never_stop_supervision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    settings = embedded_settings(tmp_path / "data", collection="Faults")
    client = store.connect(settings, supervised=True)
    try:
        vectors = fill(settings, client)
        # 1. Something that is not a lease in the leases folder; then the server dies.
        (server.data_dir_of(settings) / ".leases" / "notes.txt").write_text("not a lease")
        kill_server(settings)
        seen: list[str] = []
        wait_state(settings, lambda s: s.up and s.restarts == 1, seen)
        assert any(s.startswith("restarting") for s in seen), seen

        # 2. An exception nobody foresaw, raised inside the watcher thread: logged with its
        #    traceback, readiness off ('down: ...'), and the watcher keeps going.
        def broken(_: object) -> bool:
            raise RuntimeError("a bug in the health check")

        with caplog.at_level(logging.ERROR, logger="store"):
            monkeypatch.setattr(server, "server_died", broken)
            state = wait_state(settings, lambda s: not s.up, [])
            assert state == "down: RuntimeError: a bug in the health check"
            time.sleep(1.0)  # a few retries (backoff 0.5 s, 1 s, ...): still down, still watching
            assert store.supervisor_status(settings).state == state  # type: ignore[union-attr]
            monkeypatch.undo()
        assert any(r.exc_info and "a bug in the health check" in str(r.exc_info[1]) for r in caplog.records)
        wait_state(settings, lambda s: s.up, [])
        (hit,) = store.search(client.collections.get("Faults"), vectors[0], "image", limit=1)
        assert hit.id == str(store.object_uuid("crash", "t", "0"))
    finally:
        client.close()  # the stray file is no lease: the last user stops the server
    assert wait_closed(settings.weaviate_port)
    assert store.server_pid(settings) is None


def test_a_restart_whose_first_client_fails_counts_as_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a busy machine the restarted server's first client can give up (its gRPC check timed
    out) while the new server runs on: still a restart (the service's store gateway watches
    the count), and the next poll checks the server and calls it up."""
    settings = embedded_settings(tmp_path / "data", collection="SlowStart")
    client = store.connect(settings, supervised=True)
    try:
        fill(settings, client)
        ready, failed = server._wait_ready, []

        def slow_once(new_client: object, deadline: float) -> None:
            if not failed:
                failed.append(new_client)
                raise store.StoreUnavailable("not ready in time (injected)")
            ready(new_client, deadline)  # type: ignore[arg-type]

        monkeypatch.setattr(server, "_wait_ready", slow_once)
        old_pid, _ = kill_server(settings)
        seen: list[str] = []
        wait_state(settings, lambda s: s.up and s.restarts == 1, seen)
        assert failed and "down: not ready in time (injected)" in seen, seen
        assert store.server_pid(settings) not in (None, old_pid)
    finally:
        client.close()
    assert wait_closed(settings.weaviate_port)


# A process that holds the server's HTTP port and nothing else ("weaviate" in its command line
# like the real one): a server alive but missing its gRPC listener.
HALF_SERVER = (
    "import socket, sys\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(16)\n"
    "while True: s.accept()[0].close()  # answers every probe, like a live listener\n"
)


@pytest.mark.slow
def test_a_server_missing_a_listener_is_replaced(tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path / "data", collection="HalfUp")
    data_dir = server.data_dir_of(settings)
    client = store.connect(settings, supervised=True)
    half = None
    try:
        vectors = fill(settings, client)
        with server.locked(data_dir):  # no restart can start before the half server is in place
            pid, _ = kill_server(settings)
            while server_process.alive(pid):
                time.sleep(0.02)
            half = subprocess.Popen(
                [sys.executable, "-c", HALF_SERVER, str(settings.weaviate_port), "fake-weaviate"]
            )
            (data_dir / ".server.pid").write_text(str(half.pid))
            while not server_process.listening(settings.weaviate_port):
                assert half.poll() is None
                time.sleep(0.02)
        start = time.monotonic()
        seen: list[str] = []
        wait_state(settings, lambda s: s.up and s.restarts == 1, seen, BOUND_S + server.HALF_UP_GRACE_S)
        took = time.monotonic() - start
        assert half.wait(5) is not None  # stopped (SIGTERM), not left holding the port
        assert store.server_pid(settings) not in (None, half.pid)
        noticed = seen[next(i for i, state in enumerate(seen) if state != "up") :]
        assert "up" not in noticed[:-1], seen  # from the moment it noticed: not up until replaced
        for i in range(0, N, 37):
            (hit,) = store.search(
                client.collections.get("HalfUp"), vectors[i], "image" if i % 2 == 0 else "audio", limit=1
            )
            assert hit.id == str(store.object_uuid("crash", "t", str(i))), i
        print(f"\nhalf-listening server replaced, store up again after {took:.1f}s; states {seen}")
    finally:
        if half is not None and half.poll() is None:
            half.kill()
            half.wait()
        client.close()
    assert wait_closed(settings.weaviate_port)


@pytest.mark.slow
def test_a_server_sigkilled_at_shutdown_is_checked_at_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = embedded_settings(tmp_path / "data", collection="HardStop")
    monkeypatch.setattr(server_process, "STOP_WAIT_S", 1.0)
    client = store.connect(settings)
    try:
        fill(settings, client)
        pid = store.server_pid(settings)
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)  # it cannot act on the SIGTERM: the stop ends with SIGKILL
    finally:
        client.close()
    assert wait_closed(settings.weaviate_port)
    assert not server_process.alive(pid)
    assert server.unclean_stop_pending(settings), "a SIGKILLed server left no unclean-stop mark"

    client = store.connect(settings, supervised=True)  # the next start: up only after the check
    try:
        wait_state(settings, lambda s: s.up, [])
        status = store.supervisor_status(settings)
        assert status is not None and "HardStop" in status.checks, "no vector-index check ran"
        assert status.checks["HardStop"].objects == N and status.checks["HardStop"].ok
        assert not server.unclean_stop_pending(settings)
    finally:
        client.close()
    assert wait_closed(settings.weaviate_port)
