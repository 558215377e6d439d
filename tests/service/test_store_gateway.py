"""StoreGateway's deadlines and fail-fast on their own (service/search/store_gateway.py): real
loopback sockets stand in for a server that is gone (nothing listens) or hung (it accepts and
never answers), and a stub stands in for the embedded server's supervisor. No Weaviate, no
sleeps: each bound asserted is a configured one (the deadline, FAIL_FAST_S, the cool-down)."""

import asyncio
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from service.search import store_gateway
from service.search.store_gateway import StoreGateway
from service.settings import ServiceSettings
from store import StoreUnavailable
from store.embedded.server_process import free_port
from tests.service.helpers import in_fresh_loop


@dataclass
class Status:
    state: str = "up"
    restarts: int = 0

    @property
    def up(self) -> bool:
        return self.state == "up"


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at the end of each test: the abandoned worker threads finish."""
    event = threading.Event()
    yield event
    event.set()


@pytest.fixture
def hung_ports() -> Iterator[tuple[int, int]]:
    """Two listening sockets that accept connections and never answer (a hung server)."""
    listeners = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    try:
        yield listeners[0].getsockname()[1], listeners[1].getsockname()[1]
    finally:
        for listener in listeners:
            listener.close()


def gateway(http_port: int, grpc_port: int, deadline_s: float = 30.0) -> StoreGateway:
    settings = ServiceSettings(weaviate_port=http_port, weaviate_grpc_port=grpc_port)
    breaker = StoreGateway(settings)  # connects lazily: nothing is opened here
    breaker.deadline_s = deadline_s
    return breaker


def never_answers(release: threading.Event) -> None:
    release.wait(60)


def test_a_gone_server_fails_a_call_fast_then_calls_fail_at_once(release: threading.Event) -> None:
    breaker = gateway(free_port(), free_port())  # nothing listens: connections are refused
    with pytest.raises(StoreUnavailable, match="refuses connections"):
        in_fresh_loop(breaker.call(never_answers, release))
    ran: list[bool] = []
    with pytest.raises(StoreUnavailable, match="failed moments ago"):
        in_fresh_loop(breaker.call(lambda: ran.append(True)))
    assert ran == [], "during the cool-down a call must not even start"
    breaker.recovered()  # readiness saw Weaviate whole again: calls run again
    in_fresh_loop(breaker.call(lambda: ran.append(True)))
    assert ran == [True]


def test_a_hung_server_is_cut_at_the_deadline(hung_ports: tuple[int, int], release: threading.Event) -> None:
    breaker = gateway(*hung_ports, deadline_s=0.6)
    with pytest.raises(StoreUnavailable, match="did not answer within 0.6 s"):
        in_fresh_loop(breaker.call(never_answers, release))


def test_a_call_that_answers_is_returned(hung_ports: tuple[int, int]) -> None:
    breaker = gateway(*hung_ports)
    assert in_fresh_loop(breaker.call(lambda: 42)) == 42


def test_a_supervised_restart_ends_the_calls_in_flight(
    monkeypatch: pytest.MonkeyPatch, hung_ports: tuple[int, int], release: threading.Event
) -> None:
    """The server crashed and is being restarted (its ports may already answer again): a call in
    flight ends with 503 at the supervisor's word, not after the client's retry backoff."""
    status = Status()
    monkeypatch.setattr(store_gateway.store, "supervisor_status", lambda settings: status)
    breaker = gateway(*hung_ports)

    def crash_meanwhile() -> None:
        status.state, status.restarts = "restarting: server process exited", 1
        release.wait(60)

    with pytest.raises(StoreUnavailable, match="restarting"):
        in_fresh_loop(breaker.call(crash_meanwhile))
    status.state = "up"  # back up, with one restart more than the call saw: a new call runs
    breaker.recovered()
    assert in_fresh_loop(breaker.call(lambda: "ok")) == "ok"


def test_no_call_starts_while_the_supervisor_restarts_the_server(
    monkeypatch: pytest.MonkeyPatch, hung_ports: tuple[int, int]
) -> None:
    monkeypatch.setattr(store_gateway.store, "supervisor_status", lambda settings: Status("restarting"))
    breaker = gateway(*hung_ports)
    ran: list[bool] = []
    with pytest.raises(StoreUnavailable, match="embedded Weaviate is restarting"):
        in_fresh_loop(breaker.call(lambda: ran.append(True)))
    assert ran == []


# ----------------------------------------------------- the named methods, over a fake client


class FakeClient:
    def __init__(self, ready: bool = True, hang: threading.Event | None = None) -> None:
        self.ready, self.hang, self.meta_reads = ready, hang, 0
        self.collections = self

    def get(self, name: str) -> str:  # client.collections.get
        return f"collection {name}"

    def exists(self, name: str) -> bool:  # client.collections.exists
        return True

    def is_ready(self) -> bool:
        if self.hang is not None:
            self.hang.wait(60)
        return self.ready

    def get_meta(self) -> dict[str, str]:
        self.meta_reads += 1
        return {"version": "1.39.0"}


def fails() -> None:
    raise StoreUnavailable("Weaviate at 127.0.0.1 refuses connections")


class NoWatch:
    def problems(self, client: object, collection: str) -> list[str]:
        return []


@pytest.fixture
def fake_store(monkeypatch: pytest.MonkeyPatch) -> FakeClient:
    """The gateway's client is a FakeClient of a current index (store's reads stubbed)."""
    client = FakeClient()
    monkeypatch.setattr(store_gateway, "connect", lambda settings, supervised: client)
    monkeypatch.setattr(store_gateway.store, "supervisor_status", lambda settings: None)
    monkeypatch.setattr(store_gateway.store, "index_problems", lambda client, name, version: [])
    monkeypatch.setattr(store_gateway.store, "counts", lambda collection: {"image": {1: 2}, "audio": {1: 3}})
    monkeypatch.setattr(store_gateway.store, "model_versions", lambda collection: {"abc": 5})
    return client


def test_readiness_past_the_cool_down_ends_the_fail_fast(
    fake_store: FakeClient, hung_ports: tuple[int, int]
) -> None:
    breaker = gateway(*hung_ports)
    with pytest.raises(StoreUnavailable):
        in_fresh_loop(breaker.call(fails))
    with pytest.raises(StoreUnavailable, match="failed moments ago"):
        in_fresh_loop(breaker.call(lambda: 1))
    report = in_fresh_loop(breaker.readiness("abc", NoWatch()))  # type: ignore[arg-type]
    assert report.ready and report.reasons == []
    assert in_fresh_loop(breaker.call(lambda: 1)) == 1  # Weaviate seen whole: calls run again


class ClosingChannel:
    """Stands in for the gateway's search channel (store.grpc_search.GrpcSearch): records its close."""

    def __init__(self) -> None:
        self.closed_with_grace: list[float | None] = []

    async def close(self, grace: float | None = None) -> None:
        self.closed_with_grace.append(grace)


def test_readiness_after_trouble_gives_searches_a_fresh_channel(
    fake_store: FakeClient, hung_ports: tuple[int, int]
) -> None:
    """A channel that lost the server may still be waiting to reconnect while readiness reached
    it on its own connections: once ready, the next search must not go through that channel."""
    breaker = gateway(*hung_ports)
    old = ClosingChannel()

    async def trouble_then_ready() -> tuple[bool, object]:
        breaker._grpc = old  # type: ignore[assignment]
        with pytest.raises(StoreUnavailable):
            await breaker.call(fails)
        report = await breaker.readiness("abc", NoWatch())  # type: ignore[arg-type]
        await asyncio.sleep(0)  # the old channel closes in a task of its own
        return report.ready, breaker._grpc

    ready, channel = in_fresh_loop(trouble_then_ready())
    assert ready and channel is None  # the next search opens a new one
    assert old.closed_with_grace == [breaker.deadline_s]  # calls in flight may still end


def test_readiness_without_trouble_keeps_the_channel(
    fake_store: FakeClient, hung_ports: tuple[int, int]
) -> None:
    breaker = gateway(*hung_ports)
    kept = ClosingChannel()

    async def ready() -> object:
        breaker._grpc = kept  # type: ignore[assignment]
        await breaker.readiness("abc", NoWatch())  # type: ignore[arg-type]
        return breaker._grpc

    assert in_fresh_loop(ready()) is kept and kept.closed_with_grace == []


def test_readiness_not_ready_keeps_the_fail_fast(fake_store: FakeClient, hung_ports: tuple[int, int]) -> None:
    fake_store.ready = False
    breaker = gateway(*hung_ports)
    with pytest.raises(StoreUnavailable):
        in_fresh_loop(breaker.call(fails))
    report = in_fresh_loop(breaker.readiness("abc", NoWatch()))  # type: ignore[arg-type]
    assert not report.ready and report.reasons == ["Weaviate does not report ready"]
    with pytest.raises(StoreUnavailable, match="failed moments ago"):
        in_fresh_loop(breaker.call(lambda: 1))


def test_readiness_past_the_deadline_is_a_reason(
    fake_store: FakeClient, hung_ports: tuple[int, int], release: threading.Event
) -> None:
    fake_store.hang = release
    breaker = gateway(*hung_ports, deadline_s=0.6)
    report = in_fresh_loop(breaker.readiness("abc", NoWatch()))  # type: ignore[arg-type]
    assert not report.ready and not any(report.checks.values())
    assert report.reasons == ["Weaviate did not answer within 0.6 s"]


def test_stats_reads_the_counts_each_time_and_the_server_version_once(
    fake_store: FakeClient, hung_ports: tuple[int, int]
) -> None:
    breaker = gateway(*hung_ports)
    for _ in range(2):
        stats = in_fresh_loop(breaker.stats())
        assert stats.counts == {"image": {1: 2}, "audio": {1: 3}} and stats.model_versions == {"abc": 5}
        assert stats.weaviate_version == "1.39.0"
    assert fake_store.meta_reads == 1


def test_embedding_map_asks_the_cache_for_this_collection_and_version(
    fake_store: FakeClient, hung_ports: tuple[int, int]
) -> None:
    asked: list[tuple[object, str]] = []

    class Cache:
        def get(self, collection: object, model_version: str) -> str:
            asked.append((collection, model_version))
            return "the map"

    breaker = gateway(*hung_ports)
    assert in_fresh_loop(breaker.embedding_map(Cache(), "abc")) == "the map"  # type: ignore[arg-type]
    assert asked == [(f"collection {breaker._settings.collection}", "abc")]
