"""Admission for search requests: what one worker takes on at once, bounded three ways.

* **Searches** (MAX_SEARCHES_IN_FLIGHT): a search counts from the moment its upload has fully
  arrived until its answer is sent. A slow upload holds no search slot, so slow clients
  cannot crowd out the searches of others; a search that finds every slot taken is answered
  503 + Retry-After at once (before routing, with bytes prepared once: under overload most
  requests are refused, so a refusal must cost little; measured in BENCHMARKS.md).
* **Upload bytes held** (MAX_UPLOAD_BYTES_HELD): the bytes of every upload in flight, counted
  as they arrive (a declared Content-Length is checked up front). Past the budget: 503 at once.
* **Receive rate** (UPLOAD_MIN_BYTES_PER_S after UPLOAD_GRACE_S): a body that arrives slower
  is cut off with 408, so a connection trickling a byte a second is dropped within seconds
  rather than holding memory and a connection until UPLOAD_TIMEOUT_S.

A pure ASGI middleware: it sees the body as it streams (by wrapping `receive`), which a route
dependency could not. State is touched from the event loop only, so it needs no lock.
"""

import time
from dataclasses import dataclass

import anyio
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import ApiError, error_response, overloaded


def is_search(scope: Scope) -> bool:
    """Routes that embed an upload or search: POST /search*, POST /map/project, POST /items (an
    added item is embedded like a search's upload), "more like this", a typed digit (no
    decoding, but a Weaviate query all the same)."""
    path = scope.get("path", "")
    if scope.get("method") == "POST":
        return path.startswith("/search") or path in ("/map/project", "/items")
    return path == "/search/text" or (path.startswith("/items/") and path.endswith("/similar"))


@dataclass(frozen=True)
class AdmissionLimits:
    max_searches: int
    max_bytes_held: int
    min_bytes_per_s: float
    grace_s: float


class SearchAdmission:
    """The worker's counters, and the refusals rendered once."""

    def __init__(self, limits: AdmissionLimits) -> None:
        self.limits = limits
        self.in_flight = 0  # searches whose upload has arrived
        self.bytes_held = 0  # upload bytes received by requests still in flight
        self.full_message = (
            f"{limits.max_searches} searches are already in flight (MAX_SEARCHES_IN_FLIGHT); retry shortly"
        )
        self.no_memory_message = (
            f"uploads in flight already hold {limits.max_bytes_held:,} bytes (MAX_UPLOAD_BYTES_HELD); "
            "retry shortly"
        )
        self._full = self._prepared(self.full_message)
        self._no_memory = self._prepared(self.no_memory_message)

    @staticmethod
    def _prepared(message: str) -> tuple[bytes, list[tuple[bytes, bytes]]]:
        refusal = overloaded(message)
        response = error_response(refusal.status, refusal.code, refusal.message, refusal.headers)
        return bytes(response.body), list(response.raw_headers)

    @property
    def full(self) -> bool:
        return self.in_flight >= self.limits.max_searches

    def admit(self) -> None:
        """Take a search slot, or raise the 503 (the upload arrived but the slots filled meanwhile)."""
        if self.full:
            raise overloaded(self.full_message)
        self.in_flight += 1

    def fits(self, more_bytes: int) -> bool:
        return self.bytes_held + more_bytes <= self.limits.max_bytes_held

    async def refuse(self, send: Send, memory: bool = False) -> None:
        body, headers = self._no_memory if memory else self._full
        # a fresh header list each time: outer middlewares append to it
        await send({"type": "http.response.start", "status": 503, "headers": list(headers)})
        await send({"type": "http.response.body", "body": body})


class _AdmittedRequest:
    """One search request: its bytes against the budget, its pace, its slot once the body is in."""

    def __init__(self, admission: SearchAdmission, receive: Receive, expects_body: bool) -> None:
        self.admission = admission
        self._receive = receive
        self.bytes = 0
        self.admitted = False
        self._started = time.monotonic()
        if not expects_body:
            self._admit()

    def _admit(self) -> None:
        self.admission.admit()
        self.admitted = True

    def _hold(self, more: int) -> None:
        if not self.admission.fits(more):
            raise overloaded(self.admission.no_memory_message)
        self.admission.bytes_held += more
        self.bytes += more

    async def receive(self) -> Message:
        limits = self.admission.limits
        # the body must keep up with min_bytes_per_s once the grace period is over
        due = self._started + limits.grace_s + self.bytes / limits.min_bytes_per_s
        with anyio.move_on_after(max(0.0, due - time.monotonic())):
            message = await self._receive()
            if message["type"] == "http.request":
                self._hold(len(message.get("body", b"")))
                if not message.get("more_body", False) and not self.admitted:
                    self._admit()
            return message
        raise ApiError(
            408,
            "upload_too_slow",
            f"the upload arrived slower than {limits.min_bytes_per_s:g} bytes/s "
            f"(UPLOAD_MIN_BYTES_PER_S, after {limits.grace_s:g} s)",
        )

    def release(self) -> None:
        self.admission.bytes_held -= self.bytes
        if self.admitted:
            self.admission.in_flight -= 1


class SearchAdmissionMiddleware:
    """Applies SearchAdmission to every search request (see the module doc). The counters live
    in the app's resources, which the lifespan creates after this middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        resources = getattr(scope["app"].state, "resources", None) if scope["type"] == "http" else None
        if resources is None or not is_search(scope):
            await self.app(scope, receive, send)
            return
        admission: SearchAdmission = resources.searches
        if admission.full:
            await admission.refuse(send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        # a body over the whole budget on its own is the route's to refuse (413 over the limit)
        size = int(declared) if declared.isdigit() else 0
        if size <= admission.limits.max_bytes_held and not admission.fits(size):
            await admission.refuse(send, memory=True)
            return
        request = _AdmittedRequest(admission, receive, expects_body=scope["method"] == "POST")
        try:
            await self.app(scope, request.receive, send)
        finally:
            request.release()
