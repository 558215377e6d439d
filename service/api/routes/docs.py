"""GET /docs: Swagger UI, under a Content-Security-Policy that admits exactly what the page loads.

FastAPI's page pulls its script and style from a CDN and starts them with one inline
script; the policy names the CDN and that script's hash instead of allowing any inline code.
"""

import base64
import hashlib
import re

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

CDN = "https://cdn.jsdelivr.net"  # swagger-ui-dist's script and style
FAVICON_ORIGIN = "https://fastapi.tiangolo.com"


def inline_script_hashes(html: str) -> list[str]:
    """CSP source expressions ('sha256-...') for every inline <script> of a page."""
    return [
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in re.findall(r"<script>(.*?)</script>", html, flags=re.DOTALL)
    ]


@router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    app = request.app
    html = bytes(get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} - Swagger UI").body)
    page = html.decode()
    csp = (
        f"default-src 'self'; script-src 'self' {CDN} {' '.join(inline_script_hashes(page))}; "
        f"style-src 'self' {CDN}; img-src 'self' data: {FAVICON_ORIGIN}; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    )
    return HTMLResponse(page, headers={"Content-Security-Policy": csp})
