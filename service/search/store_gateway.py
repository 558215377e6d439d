"""The service's Weaviate client behind a circuit breaker: reconnects, deadlines, fail-fast."""

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

import anyio
import weaviate
from weaviate.collections import Collection, CollectionAsync
from weaviate.exceptions import WeaviateBaseError

import store
from service.search.embedding_map import EmbeddingMap, MapCache
from service.search.readiness import Readiness, check_store
from service.search.vector_index_watch import VectorIndexWatch
from service.settings import ServiceSettings
from store import StoreUnavailable, connect
from store.async_connection import connect_async
from store.connection import query_timeout_s, server_address, server_key
from store.grpc_search import GrpcSearch

log = logging.getLogger("service")

RECONNECT_EVERY_S = 2.0  # while Weaviate is down, try to reconnect at most this often
COOL_DOWN_S = 2.0  # after a failed call, answer 503 at once for this long instead of waiting again
# A refused (or unroutable) Weaviate must cost a request at most FAIL_FAST_S, although the
# client retries UNAVAILABLE with 1, 2, 4, 8... s of backoff: a call still running after
# PROBE_AFTER_S checks (then every PROBE_EVERY_S) that both ports still take TCP connections,
# each probe bounded by PROBE_TIMEOUT_S; after a failure every call probes before it starts.
FAIL_FAST_S = 1.0
PROBE_AFTER_S = 0.25
PROBE_EVERY_S = 0.5
PROBE_TIMEOUT_S = 0.3
assert PROBE_AFTER_S + 2 * PROBE_TIMEOUT_S < FAIL_FAST_S
T = TypeVar("T")


@dataclass(frozen=True)
class IndexStats:
    counts: dict[str, dict[int, int]]  # modality -> label -> items
    model_versions: dict[str, int]  # model version -> items
    weaviate_version: str


def tcp_endpoints(settings: ServiceSettings) -> list[tuple[str, int]]:
    """(host, port) of Weaviate's HTTP and gRPC listeners, as the client reaches them."""
    a = server_address(settings)
    return [(a.host, a.http_port), (a.host, a.grpc_port)]


async def refusal(endpoints: list[tuple[str, int]]) -> str | None:
    """Why Weaviate cannot be reached at all (a port refuses TCP connections), or None.

    A probe that merely times out says "slow", not "gone" (an overloaded machine answers
    late): that case is left to the call's deadline, so load never trips the breaker.
    """
    for host, port in endpoints:
        try:
            with anyio.move_on_after(PROBE_TIMEOUT_S):
                stream = await anyio.connect_tcp(host, port)
                await stream.aclose()
        except OSError as exc:
            return f"Weaviate at {host}:{port} refuses connections ({exc.strerror or exc})"
    return None


def supervised_trouble(status: store.SupervisorStatus | None, restarts_before: int | None) -> str | None:
    """Why the embedded server cannot answer now (restarting, or restarted since a call began:
    that call's connection died with it), or None. Remote servers (no status): always None."""
    if status is None:
        return None
    if not status.up:
        return f"the embedded Weaviate is {status.state}"
    if restarts_before is not None and status.restarts != restarts_before:
        return "the embedded Weaviate restarted while the call ran"
    return None


class StoreGateway:
    """The Weaviate client, reconnected lazily if it could not be opened at start-up.

    A client that was open when the server went away recovers by itself (HTTP and gRPC
    both reconnect); only a failed initial connect needs this.

    `call` runs blocking work that touches Weaviate in a worker thread under a deadline.
    The deadline matters: weaviate-client retries an unreachable gRPC server with
    exponential backoff for about a minute, and a request must not wait that long. A
    server that is gone (connections refused) is noticed by a TCP probe within FAIL_FAST_S;
    a hung one (it accepts, never answers) by the deadline. After a failure, calls fail
    fast for COOL_DOWN_S, then probe before they start, so an outage never piles up threads.
    """

    def __init__(self, settings: ServiceSettings) -> None:
        self._settings = settings
        self._client: weaviate.WeaviateClient | None = None
        self._collection: Collection | None = None
        self._lock = threading.Lock()
        self._next_try = 0.0
        self._last_error = "not connected yet"
        self._down_until = 0.0
        self._suspect = False  # a call failed: probe before the next one starts
        self._last_ok = 0.0  # monotonic time of the last call that succeeded
        self._async_client: weaviate.WeaviateAsyncClient | None = None
        self._async_collection: CollectionAsync | None = None
        self._grpc: GrpcSearch | None = None
        self._closing: set[asyncio.Task[None]] = set()  # replaced search channels, closing
        self._endpoints = tcp_endpoints(settings)
        self._server_version: str | None = None  # read once, by the first stats()
        self.deadline_s = max(10.0, 3 * settings.weaviate_timeout_s)

    def open(self) -> None:
        """Connect now; on failure remember why, so /readyz can say it, and carry on."""
        with self._lock:
            self._connect_locked()

    def _connect_locked(self) -> None:
        self._next_try = time.monotonic() + RECONNECT_EVERY_S
        try:
            client = connect(self._settings, supervised=True)  # restarts an embedded server that dies
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
        work = functools.partial(fn, *args)
        # abandon_on_cancel: on a timeout or refusal, answer now and let the thread finish alone
        return await self._guarded(lambda: anyio.to_thread.run_sync(work, abandon_on_cancel=True), probe)

    async def search(self, request: store.SearchRequest) -> list[store.Hit]:
        """One nearest-vector query on the event loop: one gRPC call, no thread held."""
        return await self._guarded(lambda: self._search(request), probe=False)

    async def _search(self, request: store.SearchRequest) -> list[store.Hit]:
        if self._grpc is None:
            # The channel lives on the loop; opened on the first search, once the blocking
            # client has reached (or started) the server, whose key it then uses.
            _ = await anyio.to_thread.run_sync(lambda: self.client)
            address, key = server_address(self._settings), server_key(self._settings)
            self._grpc = GrpcSearch(address, key, query_timeout_s(self._settings))
        return await self._grpc.search(self._settings.collection, request)

    async def get_item(self, item_id: UUID) -> store.Item | None:
        return await self.call(lambda: store.get_item(self.collection, item_id))

    async def get_media(self, item_id: UUID) -> bytes | None:
        return await self.call(lambda: store.get_media(self.collection, item_id))

    async def get_item_and_vector(self, item_id: UUID) -> tuple[store.Item, list[float]] | None:
        return await self.run_async(lambda collection: store.get_item_and_vector_async(collection, item_id))

    async def readiness(self, model_version: str, watch: VectorIndexWatch) -> Readiness:
        """Can searches work (readiness.check_store)? Past the cool-down, since this is how we
        notice Weaviate is back: a ready answer stops the fail-fast; a deadline passed is a reason."""
        try:
            report = await self.call(
                check_store, lambda: self.client, self._settings, model_version, watch, probe=True
            )
        except StoreUnavailable as exc:
            return Readiness.failed(str(exc))
        if report.ready:
            if self._suspect:
                self._fresh_search_channel()
            self.recovered()
        return report

    def _fresh_search_channel(self) -> None:
        """After trouble the search channel may still be waiting out its reconnect backoff
        (store.grpc_search), failing each call meanwhile, while readiness reached the server on
        connections of its own. The next search opens a new channel, so "ready" holds for
        searches too; the old one closes once its calls in flight have ended (or the deadline)."""
        old, self._grpc = self._grpc, None
        if old is not None:
            closing = asyncio.get_running_loop().create_task(old.close(grace=self.deadline_s))
            self._closing.add(closing)  # a reference, so the task is not collected half done
            closing.add_done_callback(self._closing.discard)

    async def stats(self) -> IndexStats:
        return await self.call(self._stats)

    def _stats(self) -> IndexStats:
        collection = self.collection
        counts, versions = store.counts(collection), store.model_versions(collection)
        if self._server_version is None:
            self._server_version = str(self.client.get_meta().get("version"))
        return IndexStats(counts, versions, self._server_version)

    async def embedding_map(self, cache: MapCache, model_version: str) -> EmbeddingMap:
        """The map of the index as it stands (the cache recomputes it when the index changed)."""
        return await self.call(lambda: cache.get(self.collection, model_version))

    async def run_async(self, fn: Callable[[CollectionAsync], Awaitable[T]]) -> T:
        """fn(the collection, asyncio client) on the event loop, under the deadline and fail-fast."""
        return await self._guarded(lambda: self._with_async_collection(fn), probe=False)

    async def _with_async_collection(self, fn: Callable[[CollectionAsync], Awaitable[T]]) -> T:
        if self._async_client is None:
            # The asyncio client lives on the loop; opened lazily on the first read.
            _ = await anyio.to_thread.run_sync(lambda: self.client)
            self._async_client = await connect_async(self._settings)
            self._async_collection = self._async_client.collections.use(self._settings.collection)
        assert self._async_collection is not None
        return await fn(self._async_collection)

    async def _guarded(self, make: Callable[[], Awaitable[T]], probe: bool) -> T:
        if not probe and time.monotonic() < self._down_until:
            raise StoreUnavailable(f"Weaviate failed moments ago ({self._last_error})")
        status = store.supervisor_status(self._settings)  # one lookup per call on the fast path
        if not probe and (reason := supervised_trouble(status, None)) is not None:
            self._trip(reason)
            raise StoreUnavailable(reason)
        if self._suspect and (reason := await refusal(self._endpoints)) is not None:
            self._trip(reason)
            raise StoreUnavailable(reason)
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.deadline_s):  # asyncio's own: cheaper than anyio's scope
                value = await self._watched(make, started, None if status is None else status.restarts)
        except TimeoutError:
            self._trip(f"no answer within {self.deadline_s:g} s")
            raise StoreUnavailable(f"Weaviate did not answer within {self.deadline_s:g} s") from None
        except (StoreUnavailable, WeaviateBaseError) as exc:
            self._trip(str(exc))
            raise
        self._last_ok = time.monotonic()
        if not probe:  # readiness answers even when Weaviate does not; recovered() says when it does
            self._suspect = False
        return value

    async def _watched(self, make: Callable[[], Awaitable[T]], started: float, restarts: int | None) -> T:
        """make()'s result; abandoned as soon as a probe finds Weaviate refusing connections.

        Most calls end within PROBE_AFTER_S and cost no probe. A slower one asks the embedded
        server's supervisor (a dict read) each PROBE_EVERY_S, and probes TCP only while no other
        call has succeeded since it started: under load calls keep succeeding, so a busy server
        is never probed, and one that is gone is noticed within FAIL_FAST_S.
        """
        task = asyncio.ensure_future(make())
        try:
            done, _ = await asyncio.wait({task}, timeout=PROBE_AFTER_S)
            while not done:
                # a crash seen by the supervisor ends the call at once: the client would
                # otherwise retry it with seconds of backoff until the restarted server answers
                status = store.supervisor_status(self._settings)
                if (reason := supervised_trouble(status, restarts)) is not None:
                    raise StoreUnavailable(reason)
                if self._last_ok < started and (reason := await refusal(self._endpoints)) is not None:
                    raise StoreUnavailable(reason)
                done, _ = await asyncio.wait({task}, timeout=PROBE_EVERY_S)
            return task.result()
        finally:
            task.cancel()  # no-op when done; otherwise abandon it (deadline, refusal, cancellation)

    def recovered(self) -> None:
        """Readiness saw Weaviate whole again: stop failing fast."""
        self._down_until = 0.0
        self._suspect = False

    def _trip(self, reason: str) -> None:
        self._last_error = reason
        self._down_until = time.monotonic() + COOL_DOWN_S
        self._suspect = True

    @property
    def connected(self) -> bool:
        return self._client is not None

    async def aclose(self) -> None:
        """Close the asyncio client (on the loop that opened it); then `close()` the rest."""
        client, self._async_client, self._async_collection = self._async_client, None, None
        if client is not None:
            await client.close()
        channel, self._grpc = self._grpc, None
        if channel is not None:
            await channel.close()
        for closing in list(self._closing):
            closing.cancel()  # shutting down: no grace left for a replaced channel

    def close(self) -> None:
        with self._lock:
            client, self._client, self._collection = self._client, None, None
        if client is not None:
            client.close()
