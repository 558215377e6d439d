"""The admission middleware on its own (service/middleware/admission.py): an ASGI app of a few
lines stands in for the routes, so each rule is shown exactly, without a server or timing
races. The same rules through a real server: test_service_backpressure.py."""

import asyncio
from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest

from service.api.errors import ApiError
from service.middleware.admission import (
    AdmissionLimits,
    SearchAdmission,
    SearchAdmissionMiddleware,
    is_search,
)
from tests.service.helpers import in_fresh_loop

LIMITS = AdmissionLimits(max_searches=1, max_bytes_held=1000, min_bytes_per_s=1e9, grace_s=60.0)
Message = dict[str, Any]


class Route:
    """Reads the body, records what the admission said meanwhile, then waits to be released."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.slots_seen: list[int] = []

    async def __call__(self, scope: Message, receive: Callable[[], Awaitable[Message]], send: Any) -> None:
        admission: SearchAdmission = scope["app"].state.resources.searches
        if scope["method"] == "POST":
            while True:
                self.slots_seen.append(admission.in_flight)
                message = await receive()
                if not message.get("more_body", False):
                    break
        self.slots_seen.append(admission.in_flight)
        await self.release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def scope_for(admission: SearchAdmission, method: str, path: str, length: int | None = None) -> Message:
    headers = [] if length is None else [(b"content-length", str(length).encode())]
    app = SimpleNamespace(state=SimpleNamespace(resources=SimpleNamespace(searches=admission)))
    return {"type": "http", "method": method, "path": path, "headers": headers, "app": app}


def body_feed(chunks: list[bytes], gate: asyncio.Event | None = None) -> Callable[[], Awaitable[Message]]:
    """A client sending `chunks`; with `gate`, the last chunk waits until the gate opens."""
    queue = list(chunks)

    async def receive() -> Message:
        chunk = queue.pop(0)
        if not queue and gate is not None:
            await gate.wait()
        return {"type": "http.request", "body": chunk, "more_body": bool(queue)}

    return receive


class Answers:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def __call__(self, message: Message) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int | None:
        return next((m["status"] for m in self.messages if m["type"] == "http.response.start"), None)

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")


def test_an_upload_takes_a_search_slot_only_once_its_body_has_arrived() -> None:
    async def scenario() -> None:
        admission, route = SearchAdmission(LIMITS), Route()
        middleware = SearchAdmissionMiddleware(route)
        last_chunk = asyncio.Event()
        uploading = asyncio.create_task(
            middleware(
                scope_for(admission, "POST", "/search"), body_feed([b"a", b"b"], last_chunk), Answers()
            )
        )
        await asyncio.sleep(0)
        # while the body is still arriving, another search (here: "more like this") gets the slot
        other_route = Route()
        other = asyncio.create_task(
            SearchAdmissionMiddleware(other_route)(
                scope_for(admission, "GET", "/items/x/similar"), body_feed([b""]), Answers()
            )
        )
        await asyncio.sleep(0)
        assert admission.in_flight == 1 and route.slots_seen == [0, 0]
        last_chunk.set()  # the upload completes while the only slot is taken: 503
        with pytest.raises(ApiError) as refused:
            await uploading
        assert (refused.value.status, refused.value.code) == (503, "overloaded")
        assert refused.value.headers == {"Retry-After": "1"}
        other_route.release.set()
        await other
        assert admission.in_flight == 0 and admission.bytes_held == 0

    in_fresh_loop(scenario())


def test_a_search_arriving_while_every_slot_is_taken_is_refused_before_routing() -> None:
    async def scenario() -> None:
        admission, route = SearchAdmission(LIMITS), Route()
        holder = asyncio.create_task(
            SearchAdmissionMiddleware(route)(
                scope_for(admission, "POST", "/search"), body_feed([b"x"]), Answers()
            )
        )
        await asyncio.sleep(0)
        assert admission.in_flight == 1
        answers, never_called = Answers(), Route()
        await SearchAdmissionMiddleware(never_called)(
            scope_for(admission, "POST", "/map/project"), body_feed([b"y"]), answers
        )
        assert answers.status == 503 and b"MAX_SEARCHES_IN_FLIGHT" in answers.body
        assert never_called.slots_seen == []
        route.release.set()
        await holder
        assert admission.in_flight == 0

    in_fresh_loop(scenario())


def test_upload_bytes_are_held_within_the_budget() -> None:
    async def scenario() -> None:
        admission, route = SearchAdmission(LIMITS), Route()
        gate = asyncio.Event()
        first = asyncio.create_task(
            SearchAdmissionMiddleware(route)(
                scope_for(admission, "POST", "/search", length=700),
                body_feed([b"a" * 600, b"b" * 100], gate),
                Answers(),
            )
        )
        await asyncio.sleep(0)
        assert admission.bytes_held == 600
        # declared up front: 600 + 500 > 1000, refused at once without reading a byte
        answers = Answers()
        await SearchAdmissionMiddleware(Route())(
            scope_for(admission, "POST", "/search", length=500), body_feed([b"c" * 500]), answers
        )
        assert answers.status == 503 and b"MAX_UPLOAD_BYTES_HELD" in answers.body
        # undeclared (chunked): refused when the bytes that arrive pass the budget
        with pytest.raises(ApiError) as refused:
            await SearchAdmissionMiddleware(Route())(
                scope_for(admission, "POST", "/search"), body_feed([b"d" * 300, b"e" * 300]), Answers()
            )
        assert refused.value.status == 503 and "MAX_UPLOAD_BYTES_HELD" in refused.value.message
        assert admission.bytes_held == 600  # the refused request gave its 300 bytes back
        gate.set()
        route.release.set()
        await first
        assert admission.bytes_held == 0 and admission.in_flight == 0

    in_fresh_loop(scenario())


def test_a_body_slower_than_the_minimum_rate_is_cut_off_after_the_grace() -> None:
    limits = AdmissionLimits(max_searches=4, max_bytes_held=10_000, min_bytes_per_s=1000.0, grace_s=0.2)

    async def scenario() -> None:
        admission = SearchAdmission(limits)
        stalled = asyncio.Event()  # never set: the client sends one byte, then nothing
        with pytest.raises(ApiError) as cut:
            await SearchAdmissionMiddleware(Route())(
                scope_for(admission, "POST", "/search"), body_feed([b"x", b"y"], stalled), Answers()
            )
        assert (cut.value.status, cut.value.code) == (408, "upload_too_slow")
        assert "UPLOAD_MIN_BYTES_PER_S" in cut.value.message
        assert admission.bytes_held == 0 and admission.in_flight == 0

    in_fresh_loop(scenario())


def test_only_search_routes_are_admitted() -> None:
    async def scenario() -> None:
        admission = SearchAdmission(LIMITS)
        admission.in_flight = LIMITS.max_searches  # full
        for method, path in (("GET", "/items/x"), ("GET", "/readyz"), ("GET", "/map"), ("POST", "/other")):
            route = Route()
            route.release.set()
            answers = Answers()
            await SearchAdmissionMiddleware(route)(
                scope_for(admission, method, path), body_feed([b""]), answers
            )
            assert answers.status == 200, path

    in_fresh_loop(scenario())


def test_a_typed_digit_takes_a_search_slot() -> None:
    """No decoding, but a Weaviate query: bounded by the slots like "more like this"."""

    async def scenario() -> None:
        admission = SearchAdmission(LIMITS)
        admission.in_flight = LIMITS.max_searches  # full
        answers, never_called = Answers(), Route()
        await SearchAdmissionMiddleware(never_called)(
            scope_for(admission, "GET", "/search/text"), body_feed([b""]), answers
        )
        assert answers.status == 503 and never_called.slots_seen == []

    in_fresh_loop(scenario())


def test_adding_an_item_is_admitted_like_a_search_upload() -> None:
    """POST /items embeds an upload: it takes a search slot and the upload byte budget; reading,
    listing and deleting items do not."""
    assert is_search({"method": "POST", "path": "/items"})
    for method, path in (("GET", "/items"), ("DELETE", "/items/x"), ("GET", "/items/x/media")):
        assert not is_search({"method": method, "path": path}), (method, path)
