"""Who may call the service and what browsers and caches may do with its answers.

* API_KEY (optional; blank counts as unset): every route but /healthz and the web page
  (GET / and /static/*) needs it, in `X-API-Key: <key>` or `Authorization: Bearer <key>`;
  compared in constant time; 401 otherwise. Every answer that needed it is
  `Cache-Control: private`.
* CORS_ORIGINS: the origins whose pages may call the API from a browser; none by default.
* Security headers on every response: a Content-Security-Policy allowing only this origin,
  X-Content-Type-Options: nosniff, and frame denial (X-Frame-Options + frame-ancestors).
"""

import hmac

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.api.errors import error_response
from service.settings import ServiceSettings

# Reachable without the key: liveness (it says only "the process answers", and probes from
# outside the container carry no secrets) and the page's own files (routes/page.py), which a
# browser loads before anyone could type a key. /readyz stays behind the key: its reasons
# name Weaviate's address and errors, the collection and the model versions, and the page
# learns from its 401 that it must ask for a key. The compose healthchecks run inside the
# container and send API_KEY from its environment.
PUBLIC_PATHS = frozenset({"/healthz", "/"})
PUBLIC_PREFIXES = ("/static/",)

# The one Content-Security-Policy: only this origin, no plugins, no framing. Pages that need
# more (the search page's object URLs, Swagger UI's inline scripts) widen single directives.
_CSP_BASE = {
    "default-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def content_security_policy(**directives: str) -> str:
    """The base policy with `directives` added or replaced (script_src="..." is script-src)."""
    merged = {**_CSP_BASE, **{name.replace("_", "-"): value for name, value in directives.items()}}
    return "; ".join(f"{name} {value}" for name, value in merged.items())


CSP = content_security_policy()
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def configured_key(settings: ServiceSettings) -> str | None:
    """API_KEY, or None when it is unset or blank (a header cannot carry a blank key anyway)."""
    if settings.api_key is None:
        return None
    return settings.api_key.get_secret_value().strip() or None


class SecurityHeadersMiddleware:
    """Adds SECURITY_HEADERS to every response that does not set its own (the docs page does)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [
                    (name.encode(), value.encode())
                    for name, value in SECURITY_HEADERS.items()
                    if name.encode() not in present
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def presented_key(scope: Scope) -> bytes | None:
    """The key a request carries: X-API-Key, else an Authorization Bearer token. A header sent
    twice presents no key (which of two keys was meant is not for us to guess)."""
    headers = Headers(scope=scope)
    keys = headers.getlist("x-api-key")
    if keys:
        return keys[0].encode("latin-1") if len(keys) == 1 else None
    authorizations = headers.getlist("authorization")
    if len(authorizations) != 1:
        return None
    scheme, _, token = authorizations[0].partition(" ")
    return token.strip().encode("latin-1") if scheme.lower() == "bearer" else None


UNAUTHORIZED = "missing or wrong API key: send it as `X-API-Key: <key>` or `Authorization: Bearer <key>`"


def private_cache_control(value: bytes | None) -> bytes:
    """A Cache-Control for an answer only key holders may see: `public` becomes `private`.

    Caches treat X-API-Key as an ordinary header: without `private` a shared cache could
    hand one caller's keyed answer to anyone asking for the same URL.
    """
    directives = [d.strip() for d in (value or b"").split(b",") if d.strip()]
    kept = [d for d in directives if d.lower() != b"public"]
    if not any(d.lower() in (b"private", b"no-store") for d in kept):
        kept.insert(0, b"private")
    return b", ".join(kept)


def _keyed_answer(send: Send) -> Send:
    async def send_private(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"]
            current = next((v for k, v in message.get("headers", []) if k.lower() == b"cache-control"), None)
            message["headers"] = [*headers, (b"cache-control", private_cache_control(current))]
        await send(message)

    return send_private


class ApiKeyMiddleware:
    """401 for a request to a non-public path without the right key."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self.key = key.encode()

    def authorized(self, scope: Scope) -> bool:
        presented = presented_key(scope)
        # compare_digest takes as long for a near miss as for a wild guess
        return presented is not None and hmac.compare_digest(presented, self.key)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            await self.app(scope, receive, send)
            return
        if not self.authorized(scope):
            response = error_response(401, "unauthorized", UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})
            await response(scope, receive, send)
            return
        await self.app(scope, receive, _keyed_answer(send))


def install_security(app: FastAPI, settings: ServiceSettings) -> None:
    """Key check innermost, then the headers (401s get them too), then CORS (preflights pass)."""
    key = configured_key(settings)
    if key is not None:
        app.add_middleware(ApiKeyMiddleware, key=key)
    app.add_middleware(SecurityHeadersMiddleware)
    if settings.cors_allow_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allow_list,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key", "X-Request-ID"],
            expose_headers=["ETag", "Retry-After", "X-Request-ID"],
            max_age=600,
        )
