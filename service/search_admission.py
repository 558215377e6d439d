"""Back-pressure: at most MAX_SEARCHES_IN_FLIGHT searches at a time per worker process.

One more gets 503 + Retry-After at once instead of waiting in an unbounded queue (for
threads, the encoder, Weaviate). A search counts from the moment its request arrives until
its answer is sent, upload included, so the limit also bounds the upload bytes a worker
holds (at most MAX_SEARCHES_IN_FLIGHT x MAX_UPLOAD_BYTES x files per request).

A pure ASGI middleware rather than a route dependency: under overload most requests are
refused, and clients that ignore Retry-After resend at once, so the refusal must cost as
little as possible. Here it skips routing, dependency solving and exception handling and
sends bytes prepared once (measured in BENCHMARKS.md, "Overload").
"""

from starlette.types import ASGIApp, Receive, Scope, Send

from service.http_errors import error_response

OVERLOADED_RETRY_AFTER_S = 1  # searches are short: a second is plenty for a slot to free up


def is_search(scope: Scope) -> bool:
    """The routes that run a search: every POST under /search, and "more like this"."""
    path = scope.get("path", "")
    if scope.get("method") == "POST":
        return path.startswith("/search")
    return path.startswith("/items/") and path.endswith("/similar")


class SearchAdmission:
    """Counts the searches in flight. Used from the event loop only, so it needs no lock."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        # The project's error answer, rendered once: a refusal only sends these bytes.
        response = error_response(
            503,
            "overloaded",
            f"{limit} searches are already in flight (MAX_SEARCHES_IN_FLIGHT); retry shortly",
            {"Retry-After": str(OVERLOADED_RETRY_AFTER_S)},
        )
        self._body = bytes(response.body)
        self._headers = list(response.raw_headers)

    async def refuse(self, send: Send) -> None:
        # a fresh header list each time: outer middlewares append to it
        await send({"type": "http.response.start", "status": 503, "headers": list(self._headers)})
        await send({"type": "http.response.body", "body": self._body})


class SearchAdmissionMiddleware:
    """Takes a slot for each search request, or refuses it (see the module doc). The slots
    live in the app's resources, which the lifespan creates after this middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        resources = getattr(scope["app"].state, "resources", None) if scope["type"] == "http" else None
        if resources is None or not is_search(scope):
            await self.app(scope, receive, send)
            return
        admission: SearchAdmission = resources.searches
        if admission.in_flight >= admission.limit:
            await admission.refuse(send)
            return
        admission.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            admission.in_flight -= 1
