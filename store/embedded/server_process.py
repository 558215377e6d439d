"""Launch the Weaviate server binary as the embedded server: its environment, its ports, its session.

We launch it ourselves rather than through weaviate-client's `EmbeddedV4`:
* the server runs in a session of its own: a Ctrl-C in the terminal of the process that
  started it must not stop a server other processes share (its last user stops it cleanly);
* it never outlives the process that started it: the kernel sends it SIGTERM when that
  process dies, however it dies (PR_SET_PDEATHSIG, set by a tiny exec wrapper), so a killed
  owner cannot leave an orphan; the other users' supervisors start it again;
* its pid is known the moment it exists, so a starter killed during start-up never leaves a
  server nobody knows about.
The node name and ports follow the client's embedded mode, so data folders written by either
work with the other.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from store.errors import StoreUnavailable

LISTEN_WITHIN_S = 60.0
STOP_WAIT_S = 30.0  # SIGTERM -> exit (Weaviate flushes its stores); SIGKILL after this
children: dict[int, subprocess.Popen[bytes]] = {}  # servers this process started (to reap them)
# The parent-death signal fires when the *thread* that forked the child ends, so every server
# is forked by this one thread, which lives as long as the process.
_launcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="weaviate-launcher")
# argv: starter pid, binary, its arguments. Python without site: ~20 ms before the exec.
_EXEC_WITH_PDEATHSIG = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG\n"
    "if os.getppid() != int(sys.argv[1]): sys.exit(70)  # the starter died before prctl\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


class ExitedAtStart(StoreUnavailable):
    """The server process exited before it listened (its log went to our stderr)."""


def listening(port: int) -> bool:
    """Something accepts TCP connections on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ephemeral_ports() -> range:
    """The local ports the kernel hands to outgoing connections (Linux; IANA's range elsewhere)."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 49152, 65535
    return range(low, high + 1)


def free_port(span: int = 1, taken: frozenset[int] = frozenset()) -> int:
    """A port p on loopback such that p .. p+span-1 are free now and not in `taken`.

    Picked at random below the kernel's range for outgoing connections: a server restarted
    later on the same ports must not find one of them held by some client's socket (a
    cluster test lost a restarted node that way). Random, so parallel callers rarely collide.
    """
    ephemeral = _ephemeral_ports()
    low, high = (10000, ephemeral.start - span) if ephemeral.start > 12000 else (ephemeral.stop, 65536 - span)
    for _ in range(200):
        base = random.randrange(low, high)
        ports = range(base, base + span)
        if not taken.intersection(ports) and all(_bindable(p) for p in ports):
            return base
    raise StoreUnavailable(f"found no {span} consecutive free ports on loopback")


def _cluster_ports() -> tuple[int, int, int, int]:
    """Four consecutive free ports: gossip, data (Weaviate requires gossip + 1), Raft, Raft RPC."""
    base = free_port(span=4)
    return base, base + 1, base + 2, base + 3


def server_env(data_dir: Path, http_port: int, grpc_port: int, api_key: str) -> dict[str, str]:
    """The server's whole environment (nothing is inherited: a stray CLUSTER_* or
    AUTHENTICATION_* variable of the caller must not reconfigure it)."""
    gossip, data, raft, raft_rpc = _cluster_ports()
    hostname = f"Embedded_at_{http_port}"  # the client's node name: the Raft state in data_dir keeps it
    return {
        "PERSISTENCE_DATA_PATH": str(data_dir),
        "GRPC_PORT": str(grpc_port),
        "QUERY_DEFAULTS_LIMIT": "20",
        "CLUSTER_HOSTNAME": hostname,
        "CLUSTER_IN_LOCALHOST": "true",
        "CLUSTER_GOSSIP_BIND_PORT": str(gossip),
        "CLUSTER_DATA_BIND_PORT": str(data),
        "RAFT_PORT": str(raft),
        "RAFT_INTERNAL_RPC_PORT": str(raft_rpc),
        "RAFT_JOIN": f"{hostname}:{raft}",
        "RAFT_BOOTSTRAP_EXPECT": "1",
        # One node: elect itself leader after ~1 s instead of the cluster default of ~5 s.
        "RAFT_TIMEOUTS_MULTIPLIER": "1",
        # Keep cluster traffic on loopback: otherwise Weaviate advertises the first interface
        # address, which may be IPv6 and then fails to start ("too many colons").
        "CLUSTER_ADVERTISE_ADDR": "127.0.0.1",
        "CLUSTER_BIND_ADDR": "127.0.0.1",
        "DISABLE_TELEMETRY": "true",
        "ENABLE_MODULES": "",  # we bring our own vectors
        "API_BASED_MODULES_DISABLED": "true",  # it loads ~40 API modules otherwise
        "LOG_LEVEL": "error",
        # Crash safety: with synchronous indexing the vector index's commit log keeps the tail
        # of each batch in a memory buffer, and a killed server comes back without those
        # vectors. Async indexing queues them on disk first and, at start-up, re-queues every
        # stored vector the index lacks (docs/ARCHITECTURE.md).
        "ASYNC_INDEXING": "true",
        "GO_PROFILING_DISABLE": "true",  # no pprof endpoint on :6060 of every interface
        # The gRPC port listens on every interface (not configurable in 1.39), so require a
        # key instead of the embedded default of anonymous access.
        "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "false",
        "AUTHENTICATION_APIKEY_ENABLED": "true",
        "AUTHENTICATION_APIKEY_ALLOWED_KEYS": api_key,
        "AUTHENTICATION_APIKEY_USERS": "digitbridge",
    }


def launch(binary: Path, http_port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start the server (see module doc); returns at once (see `wait_listening`)."""
    argv = [sys.executable, "-I", "-S", "-c", _EXEC_WITH_PDEATHSIG, str(os.getpid()), str(binary)]
    argv += ["--host", "127.0.0.1", "--port", str(http_port), "--scheme", "http"]
    argv += ["--read-timeout=600s", "--write-timeout=600s"]
    popen = subprocess.Popen[bytes]
    return _launcher.submit(popen, argv, env=env, stdin=subprocess.DEVNULL, start_new_session=True).result()


def wait_listening(process: subprocess.Popen[bytes], ports: tuple[int, ...]) -> None:
    """Until every port listens; ExitedAtStart when the process dies first."""
    deadline = time.monotonic() + LISTEN_WITHIN_S
    while not all(listening(p) for p in ports):
        if process.poll() is not None:
            raise ExitedAtStart(
                f"the embedded Weaviate server exited with code {process.returncode} at start-up "
                "(its log is above); set WEAVIATE_URL to use another server"
            )
        if time.monotonic() > deadline:
            raise StoreUnavailable(
                f"the embedded Weaviate server did not listen within {LISTEN_WITHIN_S:.0f} s"
            )
        time.sleep(0.05)


def alive(pid: int) -> bool:
    """The process exists and has not exited (our own exited children are reaped here)."""
    child = children.get(pid)
    if child is not None and child.poll() is not None:
        children.pop(pid, None)  # another thread may reap it at the same moment
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited already


def stop(pid: int, wait_s: float | None = None) -> bool:
    """SIGTERM (Weaviate flushes its stores and exits), SIGKILL after wait_s (STOP_WAIT_S);
    returns once it is gone: True when it exited on SIGTERM (or was gone already), False
    when it had to be killed (its stores were not flushed)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        cmdline = b""
    if b"weaviate" not in cmdline:
        alive(pid)  # reaps it if it is our exited child
        return True  # gone already, or the pid was reused by something else
    for sig, wait in ((signal.SIGTERM, STOP_WAIT_S if wait_s is None else wait_s), (signal.SIGKILL, 5.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return sig == signal.SIGTERM
        deadline = time.monotonic() + wait
        while alive(pid):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        else:
            return sig == signal.SIGTERM
    return False
