"""The embedded Weaviate server: start it, share it between processes, stop it with its last user.

A lease file per open client (`<data dir>/.leases/`, guarded by an flock) decides who stops
it; docs/ARCHITECTURE.md ("Sharing one embedded server", "Crash safety") explains the design.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import weaviate
from weaviate.classes.init import AdditionalConfig, Auth
from weaviate.connect import ConnectionParams
from weaviate.embedded import EmbeddedOptions, EmbeddedV4

from indexer.store.errors import StoreUnavailable
from indexer.store.settings import StoreSettings

# Single source of truth for the server version: scripts/build_weaviate.sh greps this line and
# docker-compose.yml uses the same tag.
WEAVIATE_VERSION = "1.39.3"
START_ATTEMPTS = 3


def embedded_binary(version: str | None = None) -> Path:
    """The file weaviate-client's embedded mode runs for this version (see scripts/build_weaviate.sh)."""
    tag = f"v{version or WEAVIATE_VERSION}"
    cache = EmbeddedOptions().binary_path  # honours XDG_CACHE_HOME like the client does
    return Path(cache) / f"weaviate-{tag}-{hashlib.sha256(tag.encode()).hexdigest()}"


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


class _SharedEmbeddedClient(weaviate.WeaviateClient):
    """A client of the shared embedded server; closing it releases its lease (see module doc)."""

    _lease: Path | None = None
    _settings: StoreSettings | None = None

    def close(self) -> None:
        super().close()
        lease, self._lease = self._lease, None
        if lease is not None and self._settings is not None:
            _release(self._settings, lease)


@contextmanager
def _locked(data_dir: Path) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".digitbridge.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # serialises start/stop between processes
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has exited already


def _live_leases(data_dir: Path) -> list[Path]:
    leases = []
    for lease in (data_dir / ".leases").glob("*"):
        pid = int(lease.name.split("-", 1)[0])
        if _alive(pid):
            leases.append(lease)
        else:
            lease.unlink(missing_ok=True)  # left by a killed process
    return leases


def connect(settings: StoreSettings, timeouts: AdditionalConfig) -> weaviate.WeaviateClient:
    """A client of the embedded server, starting it unless it already listens; takes a lease."""
    data_dir = settings.weaviate_data_dir.expanduser().resolve()
    http, grpc = settings.weaviate_port, settings.weaviate_grpc_port
    with _locked(data_dir):
        if not (_listening(http) and _listening(grpc)):
            _start_server(settings, data_dir)
        lease = data_dir / ".leases" / f"{os.getpid()}-{uuid.uuid4().hex}"
        lease.parent.mkdir(exist_ok=True)
        lease.touch()
    client = _SharedEmbeddedClient(
        connection_params=ConnectionParams.from_params("127.0.0.1", http, False, "127.0.0.1", grpc, False),
        additional_config=timeouts,
        auth_client_secret=Auth.api_key(_local_key(settings, data_dir)),
    )
    client._lease, client._settings = lease, settings
    try:
        client.connect()
        _wait_ready(client, deadline=time.monotonic() + 60)
    except Exception:
        client.close()
        raise
    return client


def _wait_ready(client: weaviate.WeaviateClient, deadline: float) -> None:
    # A fresh server listens before its raft node has elected itself; schema calls fail until then.
    while not client.is_ready():
        if time.monotonic() > deadline:
            raise StoreUnavailable("the embedded Weaviate server did not become ready within 60 s")
        time.sleep(0.1)


class _ExitedAtStart(StoreUnavailable):
    pass


class _EmbeddedServer(EmbeddedV4):
    """The client's embedded launcher, but it notices a server that died instead of waiting 30 s."""

    def wait_till_listening(self) -> None:
        deadline = time.monotonic() + 60
        while not self.is_listening():
            assert self.process is not None
            if self.process.poll() is not None:
                raise _ExitedAtStart(
                    f"the embedded Weaviate server exited with code {self.process.returncode} at start-up "
                    "(its log is above); set WEAVIATE_URL to use another server"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise StoreUnavailable("the embedded Weaviate server did not listen within 60 s")
            time.sleep(0.05)


def _local_key(settings: StoreSettings, data_dir: Path) -> str:
    """WEAVIATE_API_KEY, or a random key kept (mode 0600) next to the data of the embedded server."""
    if settings.weaviate_api_key is not None:
        return settings.weaviate_api_key.get_secret_value()
    path = data_dir / ".api-key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def _start_server(settings: StoreSettings, data_dir: Path) -> None:
    binary = embedded_binary()
    if not binary.exists():
        # Without this check the client would try to download the release from GitHub.
        raise StoreUnavailable(
            f"the Weaviate {WEAVIATE_VERSION} server binary is missing ({binary}); run `make weaviate` "
            "to build it, or set WEAVIATE_URL to use a running server"
        )
    for port in (settings.weaviate_port, settings.weaviate_grpc_port):
        if _listening(port):
            raise StoreUnavailable(
                f"port {port} is taken by something that is not a complete Weaviate server; "
                "choose WEAVIATE_PORT / WEAVIATE_GRPC_PORT, or set WEAVIATE_URL"
            )
    db = _EmbeddedServer(
        EmbeddedOptions(
            persistence_data_path=str(data_dir),
            binary_path=str(binary.parent),
            version=WEAVIATE_VERSION,
            port=settings.weaviate_port,
            grpc_port=settings.weaviate_grpc_port,
            hostname="127.0.0.1",
            additional_env_vars={
                "DISABLE_TELEMETRY": "true",
                "ENABLE_MODULES": "",  # we bring our own vectors
                "API_BASED_MODULES_DISABLED": "true",  # it loads ~40 API modules otherwise
                "LOG_LEVEL": "error",
                # Crash safety: with synchronous indexing the vector index's commit log keeps the
                # tail of each batch in a memory buffer, and a killed server comes back without
                # those vectors. Async indexing queues them on disk first and, at start-up,
                # re-queues every stored vector the index lacks (docs/ARCHITECTURE.md).
                "ASYNC_INDEXING": "true",
                # One node: elect itself leader after ~1 s instead of the cluster default of ~5 s.
                "RAFT_TIMEOUTS_MULTIPLIER": "1",
                # The client sets PROFILING_PORT, but this server reads GO_PROFILING_PORT and would
                # otherwise open a pprof endpoint on :6060 of every interface.
                "GO_PROFILING_DISABLE": "true",
                "PERSISTENCE_DATA_PATH": str(data_dir),
                # The gRPC port listens on every interface (not configurable in 1.39),
                # so require a key instead of the embedded default of anonymous access.
                "AUTHENTICATION_ANONYMOUS_ACCESS_ENABLED": "false",
                "AUTHENTICATION_APIKEY_ENABLED": "true",
                "AUTHENTICATION_APIKEY_ALLOWED_KEYS": _local_key(settings, data_dir),
                "AUTHENTICATION_APIKEY_USERS": "digitbridge",
                # Keep cluster traffic on loopback: otherwise Weaviate advertises the first
                # interface address, which may be IPv6 and then fails to start ("too many colons").
                "CLUSTER_ADVERTISE_ADDR": "127.0.0.1",
                "CLUSTER_BIND_ADDR": "127.0.0.1",
            },
        )
    )
    for attempt in range(START_ATTEMPTS):
        try:
            db.start()  # waits until both ports listen
            break
        except _ExitedAtStart:
            # The launcher picks its gossip / Raft ports at random, and another process may
            # take one first ("address already in use"): a new start picks new ones.
            if attempt == START_ATTEMPTS - 1:
                raise
    assert db.process is not None
    (data_dir / ".server.pid").write_text(str(db.process.pid))
    db.process = None  # the lease registry owns its life from now on, not this object's __del__


def server_pid(settings: StoreSettings) -> int | None:
    """The pid of the embedded server started for these settings, if one runs."""
    pid_file = settings.weaviate_data_dir.expanduser().resolve() / ".server.pid"
    try:
        pid = int(pid_file.read_text())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _release(settings: StoreSettings, lease: Path) -> None:
    data_dir = lease.parent.parent
    with _locked(data_dir):
        lease.unlink(missing_ok=True)
        if _live_leases(data_dir):
            return
        pid_file = data_dir / ".server.pid"
        if pid_file.exists():
            _stop_server(int(pid_file.read_text()), settings)
            pid_file.unlink(missing_ok=True)


def _stop_server(pid: int, settings: StoreSettings, wait_s: float = 30.0) -> None:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        cmdline = b""
    if b"weaviate" not in cmdline:
        return  # gone already, or the pid was reused by something else
    os.kill(pid, signal.SIGTERM)  # Weaviate flushes its stores and exits
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        try:
            waited, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
            if waited == pid:
                return
        except ChildProcessError:
            if not _alive(pid):
                return
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
