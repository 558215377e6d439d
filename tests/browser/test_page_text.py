"""The page's "Type a digit" box in a real Chromium: a typed name finds that digit, an
unknown word shows the service's message beside the box."""

import pytest

from tests.browser.helpers import TIMEOUT_MS, result_labels, searches, shot, wait_searches

pytestmark = pytest.mark.browser


@pytest.fixture
def page(ready_page) -> object:
    return ready_page


def test_typing_sieben_finds_sevens(page) -> None:
    """With the page's target: images (the session's small index holds no spoken 7)."""
    page.select_option("#target", "image")
    before = searches(page)
    page.fill("#text-query", "Sieben")
    page.press("#text-query", "Enter")
    wait_searches(page, before)
    assert result_labels(page) == [("image", 7)] * 5
    assert page.text_content("#u-label") == "7"
    assert "sieben" in page.text_content("#u-modality")
    shot(page, "text-01-sieben")

    before = searches(page)
    page.click("#next")  # pages like any other search
    wait_searches(page, before)
    assert result_labels(page) == [("image", 7)] * 5
    assert page.text_content("#page") == "6–10"


def test_an_unknown_word_shows_the_message_beside_the_box(page) -> None:
    page.fill("#text-query", "siebzehn")
    page.click("#text-search")
    error = page.locator("#text-error")
    error.wait_for(state="visible", timeout=TIMEOUT_MS)
    assert "names no digit" in error.text_content() and "sieben" in error.text_content()
    assert page.text_content("#file-error") == ""
    shot(page, "text-02-unknown-word")
