"""Prometheus metrics and the per-request log line (JSON via service.logs), in one ASGI middleware.

Pure ASGI rather than BaseHTTPMiddleware: it adds no task or body copy per request.
Routes are labelled by their template (/items/{item_id}), never by the raw path, so
the label set stays bounded whatever clients send.
"""

import itertools
import logging
import re
import secrets
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("service.access")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")  # a client's id is echoed only if harmless
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """One registry per app, so several apps (tests) never clash on global names."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "digitbridge_http_requests_total",
            "HTTP requests by route template, method and status",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "digitbridge_http_request_duration_seconds",
            "HTTP request latency by route template, method and status",
            ("method", "route", "status"),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.encode_batch_size = Histogram(
            "digitbridge_encode_batch_size",
            "Uploads embedded per forward pass (micro-batching), by modality",
            ("modality",),
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=self.registry,
        )


def _route_template(scope: Scope) -> str:
    route = getattr(scope.get("route"), "path", None)
    if route:
        return route
    # FastAPI names no route for a mounted app (the page's files): its mount point is the
    # part of root_path the mount added
    mount = scope.get("root_path", "").removeprefix(scope.get("app_root_path", ""))
    return f"{mount}/{{path}}" if mount else "<unmatched>"


class ObservabilityMiddleware:
    """Request id (X-Request-ID in and out), one JSON log line, metrics per request."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics
        # Ids are this process's random 64 bits + a counter: unique like uuid4's 32 hex digits,
        # without a getrandom syscall per request, which releases the interpreter lock on the
        # event loop and waits up to a switch interval to get it back from busy worker threads.
        self._id_prefix = secrets.token_hex(8)
        self._id_counter = itertools.count()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        request_id = self._request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500  # if the app dies before answering, that is what the client sees

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self._record(scope, request_id, status, time.perf_counter() - start)

    def _request_id(self, scope: Scope) -> str:
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _REQUEST_ID.match(candidate):
                    return candidate
        return f"{self._id_prefix}{next(self._id_counter):016x}"

    def _record(self, scope: Scope, request_id: str, status: int, seconds: float) -> None:
        route, method = _route_template(scope), scope["method"]
        labels = (method, route, str(status))
        self.metrics.requests.labels(*labels).inc()
        self.metrics.latency.labels(*labels).observe(seconds)
        if log.isEnabledFor(logging.INFO):
            fields: dict[str, Any] = {
                "request_id": request_id,
                "method": method,
                "path": scope["path"],
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
            }
            log.info("%s %s %s", method, scope["path"], status, extra={"fields": fields})
