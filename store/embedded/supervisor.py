"""Keep the embedded Weaviate server running while this process holds a lease on it.

`connect(settings, supervised=True)` starts one watcher thread per data folder and process.
Every POLL_S it looks at the server (its recorded pid, both ports). When the server is gone it
starts it again through `server.connect`, i.e. under the lease lock: two processes never
start two servers, and a server another process restarted first is simply shared. A failed
start is retried after BACKOFF_S, doubling up to MAX_BACKOFF_S. After an unclean stop (the
server was killed or crashed: `server.unclean_stop_pending`) it runs `ensure_vector_index`
on every collection (under each collection's repair lock), and only then calls the store 'up'.
A live server missing one of its listeners is stopped and started again by `server.connect`
after HALF_UP_GRACE_S. The thread never dies silently: any exception is logged with its
traceback, the state becomes 'down: ...' (readiness off), and the next poll tries again.

A remote Weaviate (WEAVIATE_URL) is never supervised: it is not ours to restart.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import weaviate
from weaviate.classes.init import AdditionalConfig

from store.embedded import server
from store.embedded.server_process import listening
from store.errors import StoreUnavailable
from store.integrity import RepairBusy, VectorIndexCheck, ensure_vector_index
from store.settings import StoreSettings

log = logging.getLogger("store")

POLL_S = 0.5
BACKOFF_S = 0.5
MAX_BACKOFF_S = 8.0
UP = "up"
RESTARTING = "restarting"


@dataclass(frozen=True)
class SupervisorStatus:
    """What the supervisor of one embedded server knows, as of `supervisor_status(...)`."""

    state: str  # 'up' | 'restarting[: <why>]' | 'down: <why>' (between two failed restarts)
    last_restart: float | None = None  # time.time() when the server last came back, if ever
    restarts: int = 0  # how often it came back while this process watched
    checks: dict[str, VectorIndexCheck] = field(default_factory=dict)  # last check after an unclean stop

    @property
    def up(self) -> bool:
        return self.state == UP


class Supervisor:
    """The watcher thread of one data folder in this process (see module doc)."""

    def __init__(self, settings: StoreSettings, timeouts: AdditionalConfig) -> None:
        self.settings, self._timeouts = settings, timeouts
        # Started right after a crash: not 'up' before the vector index has been checked.
        self.status = SupervisorStatus(RESTARTING if server.unclean_stop_pending(settings) else UP)
        self.users = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="weaviate-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop watching; waits for a restart in progress, so nothing restarts after we return."""
        self._stop.set()
        self._thread.join()

    @property
    def running(self) -> bool:
        """The watcher thread runs (or was stopped on purpose)."""
        return self._thread.is_alive() or self._stop.is_set()

    def _problem(self) -> str | None:
        """Why the server is not healthy; None when it is."""
        s = self.settings
        if server.server_died(s):
            return f"server process {server.recorded_pid(s)} exited"
        for kind, port in (("HTTP", s.weaviate_port), ("gRPC", s.weaviate_grpc_port)):
            if not listening(port):
                return f"its {kind} port {port} does not listen"
        return None

    def _set(self, state: str, **changes: object) -> None:
        if state != self.status.state:
            level = logging.INFO if state.startswith((UP, RESTARTING)) else logging.WARNING
            log.log(level, "embedded Weaviate: %s", state)
        self.status = replace(self.status, state=state, **changes)  # type: ignore[arg-type]

    def _watch(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # not even this may pass silently: readiness goes off
            log.critical("the embedded Weaviate supervisor stopped", exc_info=True)
            self._set(f"down: the supervisor stopped ({type(exc).__name__}: {exc})")
            raise

    def _loop(self) -> None:
        delay = BACKOFF_S
        while not self._stop.is_set():
            wait = POLL_S
            try:
                self._step()
                delay = BACKOFF_S
            except (StoreUnavailable, weaviate.exceptions.WeaviateBaseError, OSError) as exc:
                self._set(f"down: {exc}")
                wait, delay = delay, min(2 * delay, MAX_BACKOFF_S)
            except Exception as exc:  # noqa: BLE001 - a surprise (a bug): its traceback, then again
                log.exception("embedded Weaviate supervisor: unexpected error")
                self._set(f"down: {type(exc).__name__}: {exc}")
                wait, delay = delay, min(2 * delay, MAX_BACKOFF_S)
            self._stop.wait(wait)

    def _step(self) -> None:
        problem = self._problem()
        if problem is not None:
            self._set(f"{RESTARTING}: {problem}")
            self._come_back()
        elif server.unclean_stop_pending(self.settings):
            self._set(RESTARTING)
            self._check_after_unclean_stop(None)
        else:
            self._set(UP)

    def _come_back(self) -> None:
        """Start the server again (or share the one another process started), then check it."""
        before = server.server_pid(self.settings)
        try:
            client = server.connect(self.settings, self._timeouts)  # starts it under the lease lock
        finally:
            # A new server is a restart (not merely a slow probe), also when our first client of
            # it failed (a slow start on a busy machine): it runs on, and the next poll checks it.
            if server.server_pid(self.settings) not in (None, before):
                self._set(RESTARTING, last_restart=time.time(), restarts=self.status.restarts + 1)
        try:
            self._check_after_unclean_stop(client)
        finally:
            client.close()  # our own lease stays: this never stops the server

    def _check_after_unclean_stop(self, client: weaviate.WeaviateClient | None) -> None:
        """Every collection's vector index holds every object (repaired if not)."""
        mark = server.unclean_stop_mark(self.settings)
        if mark is None:
            self._set(UP)
            return
        own = client is None
        client = client or server.connect(self.settings, self._timeouts)
        try:
            checks = {}
            for name in client.collections.list_all():
                try:
                    checks[name] = ensure_vector_index(client, name, self.settings, wait_s=0)
                except RepairBusy:  # another repairer: stay 'restarting', look again next poll
                    return
        finally:
            if own:
                client.close()
        problems = [p for check in checks.values() for p in check.problems()]
        if problems:
            raise StoreUnavailable("after an unclean stop: " + "; ".join(problems))
        server.clear_unclean_stop(self.settings, mark)
        self._set(UP, checks=checks)


_lock = threading.Lock()
_supervisors: dict[Path, Supervisor] = {}


def supervise(settings: StoreSettings, timeouts: AdditionalConfig) -> Supervisor:
    """This process's supervisor of the embedded server for `settings`, started on first use;
    give each `supervise` back with `unsupervise` (the last one stops the thread)."""
    with _lock:
        supervisor = _supervisors.get(server.data_dir_of(settings))
        if supervisor is None:
            supervisor = _supervisors[server.data_dir_of(settings)] = Supervisor(settings, timeouts)
            supervisor.start()
        supervisor.users += 1
        return supervisor


def unsupervise(supervisor: Supervisor) -> None:
    with _lock:
        supervisor.users -= 1
        if supervisor.users > 0:
            return
        del _supervisors[server.data_dir_of(supervisor.settings)]
    supervisor.stop()


def supervisor_status(settings: StoreSettings) -> SupervisorStatus | None:
    """The state of this process's supervisor for `settings`; None when none runs here
    (a remote Weaviate, or no client opened with `supervised=True`)."""
    if settings.weaviate_url is not None:
        return None
    with _lock:
        supervisor = _supervisors.get(server.data_dir_of(settings))
    if supervisor is None:
        return None
    if not supervisor.running:  # its thread ended without being stopped (see _watch)
        return replace(supervisor.status, state="down: the supervisor thread is not running")
    return supervisor.status
