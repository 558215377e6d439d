"""/docs in a real Chromium: Swagger UI renders from this service alone, under its policy."""

import pytest

from tests.browser.helpers import TIMEOUT_MS, shot, watched_page
from tests.service.helpers import LiveServer

pytestmark = pytest.mark.browser


def test_docs_render_with_nothing_from_elsewhere(chromium, live_server: LiveServer) -> None:
    fetched: list[str] = []
    with watched_page(chromium) as page:  # a CSP violation is a console error: it fails the test
        page.on("request", lambda r: fetched.append(r.url))
        page.goto(live_server.url + "/docs")
        title = page.locator(".swagger-ui .info .title")
        title.wait_for(state="visible", timeout=TIMEOUT_MS)
        assert "DigitBridge" in title.text_content()
        page.locator(".opblock").first.wait_for(state="visible", timeout=TIMEOUT_MS)
        assert page.locator(".opblock").count() >= 8  # the API's operations are listed
        assert page.locator(".swagger-ui .errors-wrapper").count() == 0
        shot(page, "14-docs")
    own = live_server.url + "/"
    assert fetched and all(u.startswith(own) or u.startswith("data:") for u in fetched), fetched
    assert own + "static/swagger-ui/swagger-ui-bundle.js" in fetched and own + "openapi.json" in fetched
