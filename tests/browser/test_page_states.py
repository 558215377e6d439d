"""The page when the service asks for an API key, and when it is up but not ready."""

from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from service.settings import ServiceSettings
from tests.browser import helpers
from tests.service.helpers import LiveServer, live_server_for, settings_for
from tests.weaviate_server import free_port

pytestmark = pytest.mark.browser
KEY = "page-test-key-7f3a"


@pytest.fixture(scope="module")
def keyed_server(small_index: ServiceSettings) -> Iterator[LiveServer]:
    with live_server_for(small_index.model_copy(update={"api_key": SecretStr(KEY)})) as server:
        yield server


def tab_to(page, element_id: str, presses: int = 5) -> bool:
    """Whether pressing Tab from the top of the page reaches the element."""
    page.click("header h1")  # focus leaves any control; Tab goes on from the heading
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == element_id:
            return True
    return False


def test_page_asks_for_the_api_key_then_searches_and_plays(chromium, keyed_server: LiveServer) -> None:
    with helpers.watched_page(chromium) as page:
        page.goto(keyed_server.url + "/")
        page.wait_for_selector("#status[data-state='needs-key']", timeout=helpers.TIMEOUT_MS)
        field = page.get_by_label("API key")
        field.wait_for(state="visible", timeout=helpers.TIMEOUT_MS)
        assert page.text_content("label[for='api-key']") == "API key"
        assert field.get_attribute("type") == "password"
        assert "asks for an API key" in page.text_content("#key-message")
        assert "API key" in page.text_content("#search-state")
        helpers.shot(page, "11-api-key-asked")

        # a wrong key, typed from the keyboard: refused in words, the field stays
        assert tab_to(page, "api-key"), "the API key field is not reachable with Tab"
        page.keyboard.type("not-the-key")
        page.keyboard.press("Enter")
        helpers.poll(page, lambda: "not accepted" in page.text_content("#key-message"), "the refusal")
        assert field.is_visible() and page.evaluate("sessionStorage.length") == 0

        # the right key: ready, kept for this tab, sent on every call
        assert tab_to(page, "api-key")
        page.keyboard.type(KEY)
        page.keyboard.press("Enter")
        page.wait_for_selector("#status[data-state='ready']", timeout=helpers.TIMEOUT_MS)
        page.wait_for_selector("#map[data-points]", timeout=helpers.TIMEOUT_MS)
        assert not field.is_visible()
        assert page.evaluate("sessionStorage.getItem('digitbridge.api-key')") == KEY

        before = helpers.searches(page)
        helpers.draw(page, helpers.one_stroke())
        helpers.wait_searches(page, before)
        labels = helpers.result_labels(page)
        assert len(labels) == 5 and [lab for _, lab in labels] == [1] * 5, labels
        assert all(m == "audio" for m, _ in labels)
        assert page.text_content("#draw-error") == ""
        # the recordings came through the key (object URLs of the fetched bytes) and play
        helpers.poll(
            page,
            lambda: page.eval_on_selector_all(
                "#results audio", "els => els.length === 5 && els.every(a => a.src.startsWith('blob:'))"
            ),
            "the recordings to be fetched with the key",
        )
        play = (
            "a => a.play().then(() => {"
            " const s = {paused: a.paused, duration: a.duration}; a.pause(); return s; })"
        )
        played = page.eval_on_selector("#results audio", play)
        assert played["paused"] is False and played["duration"] > 0, played
        helpers.shot(page, "12-api-key-search")

        # a reload in the same tab keeps the key: no question asked again
        page.reload()
        page.wait_for_selector("#status[data-state='ready']", timeout=helpers.TIMEOUT_MS)
        assert not field.is_visible()


UNREADY = {
    # up, Weaviate answers, but the collection was never indexed
    "missing-collection": ({"collection": "NoSuchCollection"}, "does not exist"),
    # up, but nothing listens where Weaviate should be
    "weaviate-down": (
        {"weaviate_url": "http://127.0.0.1:{port}", "weaviate_grpc_port": "{grpc}", "weaviate_timeout_s": 2},
        "127.0.0.1:{port}",  # its address: "unreachable" at first, then "refuses connections"
    ),
}


@pytest.fixture(scope="module", params=sorted(UNREADY))
def unready_server(request, small_index: ServiceSettings) -> Iterator[tuple[LiveServer, str, str]]:  # type: ignore[no-untyped-def]
    """The service up on a real socket but not ready: (server, the phrase its reason holds, case)."""
    overrides, phrase = UNREADY[request.param]
    ports = {"port": free_port(), "grpc": free_port()}
    phrase = phrase.format(**ports)
    settings = settings_for(
        small_index, **{k: v.format(**ports) if isinstance(v, str) else v for k, v in overrides.items()}
    )
    with live_server_for(settings) as server:
        yield server, phrase, request.param


def test_not_ready_service_says_why_by_the_banner_and_the_controls(
    chromium, unready_server: tuple[LiveServer, str, str]
) -> None:
    server, phrase, case = unready_server
    ready = httpx.get(server.url + "/readyz", timeout=10)
    assert ready.status_code == 503 and any(phrase in r for r in ready.json()["reasons"]), ready.text
    with helpers.watched_page(chromium, allowed=(helpers.SERVICE_UNAVAILABLE,)) as page:
        page.goto(server.url + "/")
        page.wait_for_selector("#status[data-state='not-ready']", timeout=helpers.TIMEOUT_MS)
        status = page.text_content("#status")
        assert status.startswith("Service not ready:") and phrase in status, status
        assert "unknown reason" not in status
        note = page.text_content("#search-state")
        assert "unavailable until the service is ready" in note and phrase in note, note
        assert page.locator("#search-state").is_visible()

        # a search tried anyway fails in words, next to the pad, with the same reason
        helpers.draw(page, helpers.one_stroke())
        error = page.locator("#draw-error")
        error.wait_for(state="visible", timeout=helpers.TIMEOUT_MS)
        assert "not ready" in error.text_content() and phrase in error.text_content(), error.text_content()
        assert page.locator("#results li.result").count() == 0
        assert page.get_attribute("#map", "data-points") is None
        helpers.shot(page, f"13-not-ready-{case}")
