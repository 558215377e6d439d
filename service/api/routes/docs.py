"""GET /docs: Swagger UI, served whole from this service, under a policy allowing only itself.

Swagger UI's script and style come from the `fastapi-offline` package (its swagger-ui-dist 5
files), not from a CDN: the docs work offline and load nothing from elsewhere. They are served
under /static/swagger-ui/ (public like the page's own files). FastAPI's page starts them with
one inline script; the policy names that script's hash instead of allowing any inline code.
"""

import base64
import hashlib
import re
from functools import cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from service.middleware.security import content_security_policy

router = APIRouter(include_in_schema=False)

ASSETS_URL = "/static/swagger-ui"
ASSET_TYPES = {"swagger-ui-bundle.js": "text/javascript; charset=utf-8", "swagger-ui.css": "text/css"}
FAVICON_URL = "/static/favicon.svg"  # the page's own icon (service/static)


@cache
def assets_dir() -> Path:
    """Where the installed package keeps swagger-ui-dist's files (imported on first use only)."""
    import fastapi_offline

    return Path(fastapi_offline.__file__).resolve().parent / "static"


def inline_script_hashes(html: str) -> list[str]:
    """CSP source expressions ('sha256-...') for every inline <script> of a page."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    ]


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    app = request.app
    html = get_swagger_ui_html(
        openapi_url=app.openapi_url,
        title=f"{app.title} - Swagger UI",
        swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=FAVICON_URL,
    )
    page = bytes(html.body).decode()
    # img-src data: for the icons swagger-ui.css embeds as data: URLs (nothing is fetched)
    csp = content_security_policy(
        script_src=" ".join(["'self'", *inline_script_hashes(page)]),
        style_src="'self'",
        img_src="'self' data:",
        connect_src="'self'",
    )
    return HTMLResponse(page, headers={"Content-Security-Policy": csp})


@router.get(f"{ASSETS_URL}/{{name}}")
async def swagger_ui_asset(name: str) -> FileResponse:
    """Swagger UI's script and style: a fixed pair of names, never a path from the request."""
    if name not in ASSET_TYPES:
        raise HTTPException(404, f"no Swagger UI file {name!r}")
    return FileResponse(
        assets_dir() / name, media_type=ASSET_TYPES[name], headers={"Cache-Control": "public, max-age=86400"}
    )
