"""No Weaviate server is left without an owner, and two owners never run two servers
(real processes: `python -m launcher` and `python -c` clients of store)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

import store
from tests.service.helpers import wait_for
from tests.weaviate_server import embedded_settings, env_for, free_port, wait_closed

# A client that holds the embedded server (supervised) until a line arrives on stdin.
HOLDER = """
import sys
import store
settings = store.StoreSettings()
client = store.connect(settings, supervised=True)
print(store.server_pid(settings), flush=True)
try:
    sys.stdin.readline()
finally:
    client.close()
"""
BOUND_S = 30.0  # the server is back (or gone) within 30 s


def servers_on(port: int) -> list[int]:
    """Pids of Weaviate servers serving HTTP on `port` (our embedded launch line)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"weaviate-v" in a for a in argv) and str(port).encode() in argv:
            found.append(int(proc.name))
    return found


@contextmanager
def holder(settings: store.StoreSettings) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER],
        env=env_for(settings),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip().isdigit()
        yield proc
    finally:
        if proc.poll() is None:
            proc.communicate("\n", timeout=60)  # closes its client


def no_server_left(settings: store.StoreSettings) -> None:
    assert wait_closed(settings.weaviate_port, BOUND_S)
    wait_for(lambda: not servers_on(settings.weaviate_port), BOUND_S, "the server process to exit")


@pytest.mark.slow
def test_a_failed_second_start_leaves_no_orphan(tmp_path: Path, service_checkpoint: Path) -> None:
    """A second `make run` fails on the busy port, then the first one is stopped."""
    settings = embedded_settings(tmp_path / "data", collection="Orphans")
    env = env_for(settings, PORT=str(free_port()), INDEX_LIMIT="10", CHECKPOINT=str(service_checkpoint))
    env["LOG_LEVEL"] = "warning"
    run = [sys.executable, "-m", "launcher"]
    first = subprocess.Popen(run, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{env['PORT']}/healthz"
        wait_for(lambda: _answers(url) or first.poll() is not None, 180, "the first service")
        assert first.poll() is None
        second = subprocess.run(run, env=env, capture_output=True, text=True, timeout=180)
        assert second.returncode != 0 and "address already in use" in second.stdout + second.stderr
        assert len(servers_on(settings.weaviate_port)) == 1 and _answers(url)
    finally:
        first.send_signal(signal.SIGINT)  # Ctrl-C
        assert first.wait(60) == 0
    no_server_left(settings)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.slow
def test_supervisors_share_one_server_and_owners_leave_none(tmp_path: Path) -> None:
    settings = embedded_settings(tmp_path / "data", collection="Owners")
    port = settings.weaviate_port
    with holder(settings) as one, holder(settings):
        (pid,) = servers_on(port)
        os.kill(pid, signal.SIGKILL)
        # Both supervisors notice; one restarts it under the lease lock, the other shares it.
        wait_for(
            lambda: len(servers_on(port)) == 1 and store.server_pid(settings) not in (None, pid),
            BOUND_S,
            "a restart",
        )
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            assert len(servers_on(port)) == 1
            time.sleep(0.05)
        # A killed owner: if it started the server, the server stops with it (no orphan) and
        # the other owner's supervisor starts it again.
        one.kill()
        one.wait()
        time.sleep(1)
        wait_for(
            lambda: len(servers_on(port)) == 1 and store.server_pid(settings) is not None, BOUND_S, "a server"
        )
    no_server_left(settings)  # the last owner closed: it stopped the server

    # The owner killed while the server is still starting: the server does not outlive it.
    pid_file = settings.weaviate_data_dir / ".server.pid"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER], env=env_for(settings), stdin=subprocess.PIPE)
    wait_for(pid_file.exists, 60, "the server to be started")
    proc.kill()
    proc.wait()
    no_server_left(settings)
