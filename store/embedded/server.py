"""The embedded Weaviate server: start it, share it between processes, stop it with its last user.

A lease file per open client (`<data dir>/.leases/`, guarded by an flock) decides who stops
it; `.server.pid` names the server we started, from the moment it exists; `.unclean-stop`
says the last server did not stop cleanly (killed, crashed, or SIGKILLed because it did not
exit on SIGTERM), so its vector index must be checked. docs/ARCHITECTURE.md ("Sharing one
embedded server", "Crash safety", "Supervision") explains the design;
store.embedded.supervisor restarts a server that dies.
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import logging
import os
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import weaviate
from weaviate.classes.init import AdditionalConfig, Auth
from weaviate.connect import ConnectionParams
from weaviate.embedded import EmbeddedOptions

from store.embedded import server_process
from store.embedded.server_process import listening
from store.errors import StoreUnavailable
from store.grpc_health import check_grpc
from store.settings import StoreSettings

# Single source of truth for the server version: scripts/build_weaviate.sh greps this line and
# docker-compose.yml uses the same tag.
WEAVIATE_VERSION = "1.39.3"
START_ATTEMPTS = 3
READY_WITHIN_S = 60.0
HALF_UP_GRACE_S = 5.0  # a live server missing a listener this long is stopped and started again
log = logging.getLogger("store")


def embedded_binary(version: str | None = None) -> Path:
    """The file weaviate-client's embedded mode runs for this version (see scripts/build_weaviate.sh)."""
    tag = f"v{version or WEAVIATE_VERSION}"
    cache = EmbeddedOptions().binary_path  # honours XDG_CACHE_HOME like the client does
    return Path(cache) / f"weaviate-{tag}-{hashlib.sha256(tag.encode()).hexdigest()}"


def data_dir_of(settings: StoreSettings) -> Path:
    return _resolved(settings.weaviate_data_dir)


@functools.lru_cache(maxsize=64)
def _resolved(path: Path) -> Path:
    # Asked on every search (supervisor_status); resolving walks the path with a syscall per part.
    return path.expanduser().resolve()


class _SharedEmbeddedClient(weaviate.WeaviateClient):
    """A client of the shared embedded server; closing it releases its lease (see module doc)."""

    _lease: Path | None = None
    _settings: StoreSettings | None = None
    _before_release: list[Callable[[], None]]

    def close(self) -> None:
        super().close()
        hooks, self._before_release = getattr(self, "_before_release", []), []
        for hook in hooks:  # e.g. stop supervising first: nothing may restart what we stop
            hook()
        lease, self._lease = self._lease, None
        if lease is not None and self._settings is not None:
            _release(self._settings, lease)


def on_close(client: weaviate.WeaviateClient, hook: Callable[[], None]) -> None:
    """Run hook() when `client` (one of ours) closes, before its lease is released."""
    assert isinstance(client, _SharedEmbeddedClient)
    client._before_release = [*getattr(client, "_before_release", []), hook]


@contextmanager
def locked(data_dir: Path) -> Iterator[None]:
    """The lease lock: serialises start, stop and restart of the server between processes (and threads)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / ".digitbridge.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _live_leases(data_dir: Path) -> list[Path]:
    leases = []
    for lease in (data_dir / ".leases").glob("*"):
        try:
            pid = int(lease.name.split("-", 1)[0])
        except ValueError:  # not a lease (a stray file): neither a user nor ours to delete
            log.warning("ignoring %s in the leases folder: not a lease", lease.name)
            continue
        if server_process.alive(pid):
            leases.append(lease)
        else:
            lease.unlink(missing_ok=True)  # left by a killed process
    return leases


def connect(settings: StoreSettings, timeouts: AdditionalConfig) -> weaviate.WeaviateClient:
    """A client of the embedded server, starting it unless it already listens; takes a lease."""
    data_dir = data_dir_of(settings)
    http, grpc = settings.weaviate_port, settings.weaviate_grpc_port
    with locked(data_dir):
        if not _complete(settings, data_dir):
            _start_server(settings, data_dir)
        lease = data_dir / ".leases" / f"{os.getpid()}-{uuid.uuid4().hex}"
        lease.parent.mkdir(exist_ok=True)
        lease.touch()
    client = _SharedEmbeddedClient(
        connection_params=ConnectionParams.from_params("127.0.0.1", http, False, "127.0.0.1", grpc, False),
        additional_config=timeouts,
        auth_client_secret=Auth.api_key(_local_key(settings, data_dir)),
        skip_init_checks=True,  # they call pypi.org (store.grpc_health); gRPC is checked below
    )
    client._lease, client._settings = lease, settings
    try:
        client.connect()
        _wait_ready(client, deadline=time.monotonic() + READY_WITHIN_S)
        check_grpc("127.0.0.1", grpc, False, settings.weaviate_timeout_s)
    except BaseException:
        client.close()
        raise
    return client


def _complete(settings: StoreSettings, data_dir: Path) -> bool:
    """Both ports listen; a live recorded server gets HALF_UP_GRACE_S to open the missing one
    (a probe can time out on a loaded machine: never stop a healthy server for that)."""
    deadline = time.monotonic() + HALF_UP_GRACE_S
    while not (listening(settings.weaviate_port) and listening(settings.weaviate_grpc_port)):
        pid = _recorded_pid(data_dir / ".server.pid")
        if pid is None or not server_process.alive(pid) or time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _wait_ready(client: weaviate.WeaviateClient, deadline: float) -> None:
    # A fresh server listens before its raft node has elected itself; schema calls fail until then.
    while not client.is_ready():
        if time.monotonic() > deadline:
            raise StoreUnavailable(
                f"the embedded Weaviate server did not become ready within {READY_WITHIN_S:.0f} s"
            )
        time.sleep(0.1)


def local_key(settings: StoreSettings) -> str:
    """The API key clients of the embedded server use (see _local_key)."""
    return _local_key(settings, data_dir_of(settings))


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
    """Start the server (the caller holds the lease lock and found its ports closed)."""
    binary = embedded_binary()
    if not binary.exists():
        # Without this check the client would try to download the release from GitHub.
        raise StoreUnavailable(
            f"the Weaviate {WEAVIATE_VERSION} server binary is missing ({binary}); run `make weaviate` "
            "to build it, or set WEAVIATE_URL to use a running server"
        )
    ports = (settings.weaviate_port, settings.weaviate_grpc_port)
    pid_file = data_dir / ".server.pid"
    previous = _recorded_pid(pid_file)
    if previous is not None:  # the last server did not stop through its last user's release
        # First: a server that is stuck or half dead (alive, one listener missing) must hold
        # neither the data folder nor the port that is still open.
        server_process.stop(previous)
        _mark_unclean(data_dir, f"server {previous} stopped without its last user")
    for port in ports:
        if listening(port):
            raise StoreUnavailable(
                f"port {port} is taken by something that is not a complete Weaviate server; "
                "choose WEAVIATE_PORT / WEAVIATE_GRPC_PORT, or set WEAVIATE_URL"
            )
    key = _local_key(settings, data_dir)
    for attempt in range(START_ATTEMPTS):
        env = server_process.server_env(data_dir, *ports, api_key=key)
        process = server_process.launch(binary, settings.weaviate_port, env)
        server_process.children[process.pid] = process
        pid_file.write_text(str(process.pid))  # at once: a starter killed now leaves no unknown server
        try:
            server_process.wait_listening(process, ports)
            return
        except server_process.ExitedAtStart:
            # Its cluster ports were free when we chose them, but another process may take one
            # first ("address already in use"): a new start picks new ones.
            pid_file.unlink(missing_ok=True)
            if attempt == START_ATTEMPTS - 1:
                raise
        except BaseException:  # not listening in time, or we are interrupted: leave nothing behind
            if not server_process.stop(process.pid, wait_s=10.0):
                _mark_unclean(data_dir, f"server {process.pid} killed during its start")
            pid_file.unlink(missing_ok=True)
            raise


def _recorded_pid(pid_file: Path) -> int | None:
    try:
        return int(pid_file.read_text())
    except (OSError, ValueError):
        return None


def recorded_pid(settings: StoreSettings) -> int | None:
    """The pid in `.server.pid`, alive or not."""
    return _recorded_pid(data_dir_of(settings) / ".server.pid")


def server_pid(settings: StoreSettings) -> int | None:
    """The pid of the embedded server started for these settings, if one runs."""
    pid = _recorded_pid(data_dir_of(settings) / ".server.pid")
    return pid if pid is not None and server_process.alive(pid) else None


def server_died(settings: StoreSettings) -> bool:
    """A server was started for these settings and its process is gone without being stopped."""
    pid = _recorded_pid(data_dir_of(settings) / ".server.pid")
    return pid is not None and not server_process.alive(pid)


def _mark_unclean(data_dir: Path, why: str) -> None:
    # Unique per stop: a check that began before this stop must not clear it (clear_unclean_stop).
    (data_dir / ".unclean-stop").write_text(f"{why} ({uuid.uuid4().hex})\n")


def unclean_stop_pending(settings: StoreSettings) -> bool:
    """The last server stopped uncleanly and no vector-index check has cleared that yet."""
    return unclean_stop_mark(settings) is not None


def unclean_stop_mark(settings: StoreSettings) -> str | None:
    """What the unclean-stop mark says (None: no check pending)."""
    try:
        return (data_dir_of(settings) / ".unclean-stop").read_text()
    except FileNotFoundError:
        return None


def clear_unclean_stop(settings: StoreSettings, seen: str) -> None:
    """Remove the mark a check began with, unless another unclean stop replaced it meanwhile."""
    data_dir = data_dir_of(settings)
    with locked(data_dir):
        if unclean_stop_mark(settings) == seen:
            (data_dir / ".unclean-stop").unlink(missing_ok=True)


def _release(settings: StoreSettings, lease: Path) -> None:
    data_dir = lease.parent.parent
    with locked(data_dir):
        lease.unlink(missing_ok=True)
        if _live_leases(data_dir):
            return
        pid_file = data_dir / ".server.pid"
        pid = _recorded_pid(pid_file)
        if pid is not None:
            if not server_process.stop(pid):  # SIGKILLed: the next start must check its vector index
                _mark_unclean(data_dir, f"server {pid} was SIGKILLed: it did not exit on SIGTERM")
            pid_file.unlink(missing_ok=True)
