"""The service's Weaviate client behind a circuit breaker: reconnects, deadlines, fail-fast."""

import functools
import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import anyio
import weaviate
from weaviate.collections import Collection
from weaviate.exceptions import WeaviateBaseError

from indexer.store import StoreUnavailable, connect
from service.settings import ServiceSettings

log = logging.getLogger("service")

RECONNECT_EVERY_S = 2.0  # while Weaviate is down, try to reconnect at most this often
COOL_DOWN_S = 2.0  # after a failed call, answer 503 at once for this long instead of waiting again
T = TypeVar("T")


class WeaviateBreaker:
    """The Weaviate client, reconnected lazily if it could not be opened at start-up.

    A client that was open when the server went away recovers by itself (HTTP and gRPC
    both reconnect); only a failed initial connect needs this.

    `call` runs blocking work that touches Weaviate in a worker thread under a deadline.
    The deadline matters: weaviate-client retries an unreachable gRPC server with
    exponential backoff for about a minute, and a request must not wait that long. After
    a failure, calls fail fast for COOL_DOWN_S so that an outage does not pile up threads.
    """

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._client: weaviate.WeaviateClient | None = None
        self._collection: Collection | None = None
        self._lock = threading.Lock()
        self._next_try = 0.0
        self._last_error = "not connected yet"
        self._down_until = 0.0
        self.deadline_s = max(10.0, 3 * settings.weaviate_timeout_s)

    def open(self) -> None:
        """Connect now; on failure remember why, so /readyz can say it, and carry on."""
        with self._lock:
            self._connect_locked()

    def _connect_locked(self) -> None:
        self._next_try = time.monotonic() + RECONNECT_EVERY_S
        try:
            client = connect(self._settings)
        except StoreUnavailable as exc:
            self._last_error = str(exc)
            log.warning("Weaviate not reachable yet: %s", exc)
            return
        self._client = client
        self._collection = client.collections.get(self._settings.collection)

    @property
    def client(self) -> weaviate.WeaviateClient:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    if time.monotonic() < self._next_try:
                        raise StoreUnavailable(self._last_error)
                    self._connect_locked()
                    if self._client is None:
                        raise StoreUnavailable(self._last_error)
        return self._client

    @property
    def collection(self) -> Collection:
        """The collection handle (no network call); raises StoreUnavailable while disconnected."""
        _ = self.client
        assert self._collection is not None
        return self._collection

    async def call(self, fn: Callable[..., T], *args: object, probe: bool = False) -> T:
        """fn(*args) in a worker thread, bounded by deadline_s; Weaviate trouble -> StoreUnavailable.

        probe=True (readiness) skips the cool-down: it is how we notice Weaviate is back.
        """
        if not probe and time.monotonic() < self._down_until:
            raise StoreUnavailable(f"Weaviate failed moments ago ({self._last_error})")
        try:
            with anyio.fail_after(self.deadline_s):
                # abandon_on_cancel: on timeout, answer now and let the thread finish on its own
                return await anyio.to_thread.run_sync(functools.partial(fn, *args), abandon_on_cancel=True)
        except TimeoutError:
            self._trip(f"no answer within {self.deadline_s:g} s")
            raise StoreUnavailable(f"Weaviate did not answer within {self.deadline_s:g} s") from None
        except (StoreUnavailable, WeaviateBaseError) as exc:
            self._trip(str(exc))
            raise

    def recovered(self) -> None:
        """Readiness saw Weaviate whole again: stop failing fast."""
        self._down_until = 0.0

    def _trip(self, reason: str) -> None:
        self._last_error = reason
        self._down_until = time.monotonic() + COOL_DOWN_S

    @property
    def connected(self) -> bool:
        return self._client is not None

    def close(self) -> None:
        with self._lock:
            client, self._client, self._collection = self._client, None, None
        if client is not None:
            client.close()
