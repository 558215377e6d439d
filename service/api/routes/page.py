"""GET / (the search page) and /static/* (its script, style and icon), from the package.

The page ships inside the package (service/static), so it works offline and in the wheel.
Starlette's StaticFiles serves it (ETag, 304, HEAD, no path outside the folder); PageFiles adds
the page's headers: a Content-Security-Policy allowing only this origin (the page uses no
inline script or style, no eval, nothing from elsewhere), and an explicit type per suffix.
"""

import os
from pathlib import Path

from fastapi import APIRouter, Request, Response
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from service.middleware.security import content_security_policy

router = APIRouter(tags=["page"])

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
# Explicit types: the platform's mimetypes table varies (Python 3.11 calls .js
# application/javascript), and a suffix not listed here is never served.
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
# blob: for images and media only: with an API key the page fetches result media itself (an
# <img>/<audio> cannot send the key) and shows them through object URLs of those bytes.
CSP = content_security_policy(
    script_src="'self'",
    style_src="'self'",
    img_src="'self' blob:",
    media_src="'self' blob:",
    connect_src="'self'",
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # the page records from the microphone of its own origin only
    "Permissions-Policy": "microphone=(self), camera=(), geolocation=()",
    "Cache-Control": "no-cache",
}


class PageFiles(StaticFiles):
    """StaticFiles limited to the page's kinds of file, each answered with PAGE_HEADERS."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        try:
            return await super().get_response(path, scope)
        except HTTPException as exc:
            if exc.status_code != 404:
                raise
            raise HTTPException(404, f"no static file {path!r}") from None

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        media_type = MEDIA_TYPES.get(Path(full_path).suffix)
        if media_type is None:
            raise HTTPException(404)
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers.update(PAGE_HEADERS)
        if response.status_code != 304:
            response.headers["content-type"] = media_type
        return response


files = PageFiles(directory=STATIC_DIR)


@router.get("/", response_class=Response, include_in_schema=False)
async def index(request: Request) -> Response:
    """The search page: draw, drop or record a digit."""
    return await files.get_response("index.html", request.scope)
