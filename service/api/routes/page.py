"""GET / (the search page) and GET /static/{name} (its script, style and icon), from the package.

The page ships inside the package (service/static), so it works offline and in the wheel.
Every response carries a Content-Security-Policy allowing only this origin: the page uses
no inline script or style, no eval, nothing from elsewhere.
"""

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Response
from fastapi import Path as PathParam

from service.api.schemas import error_responses
from service.middleware.security import content_security_policy

router = APIRouter(tags=["page"])

STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
_TYPES = {
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
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # the page records from the microphone of its own origin only
    "Permissions-Policy": "microphone=(self), camera=(), geolocation=()",
    "Cache-Control": "no-cache",
}


def _asset(name: str) -> Response:
    path = STATIC_DIR / name
    media_type = _TYPES.get(path.suffix)
    if media_type is None or not path.is_file() or path.parent != STATIC_DIR:
        raise HTTPException(404, f"no static file {name!r}")
    return Response(path.read_bytes(), media_type=media_type, headers=SECURITY_HEADERS)


@router.get("/", response_class=Response, include_in_schema=False)
async def index() -> Response:
    """The search page: draw, drop or record a digit."""
    return _asset("index.html")


@router.get(
    "/static/{name}", response_class=Response, responses=error_responses(404), include_in_schema=False
)
async def static(name: Annotated[str, PathParam(pattern=r"^[a-z0-9_-]+\.(js|css|svg)$")]) -> Response:
    """The page's assets: a fixed, flat set of files (the pattern keeps paths out)."""
    return _asset(name)
