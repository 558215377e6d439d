"""The search page in a real Chromium: draw, choose a file, record, errors, farthest, similar, map.

Each test opens the page fresh, checks what a user would see, and saves a screenshot of
that state under tests/browser/artifacts/.
"""

import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.conftest import ARTIFACTS, MIC_DIGIT
from tests.service.helpers import LiveServer

pytestmark = pytest.mark.browser
TIMEOUT_MS = 20_000


@pytest.fixture
def page(chromium, live_server: LiveServer) -> Iterator[object]:
    """The page, loaded and ready; any console error or CSP violation fails the test."""
    page = chromium.new_page()
    problems: list[str] = []
    # the browser logs every 4xx; the page answers those in words (asserted per test)
    expected = "Failed to load resource: the server responded with a status of 4"
    page.on(
        "console", lambda m: problems.append(m.text) if m.type == "error" and expected not in m.text else None
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(live_server.url + "/")
    page.wait_for_selector("#status[data-state='ready']", timeout=TIMEOUT_MS)
    page.wait_for_selector("#map[data-points]", timeout=TIMEOUT_MS)
    yield page
    page.close()
    assert problems == [], problems


def shot(page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def searches(page) -> int:
    return int(page.eval_on_selector("body", "b => b.dataset.searchCount"))


def poll(page, check, what: str) -> None:
    """Wait for check() from Python: the page's CSP (rightly) forbids the eval behind
    Playwright's wait_for_function."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(50)


def wait_searches(page, more_than: int) -> None:
    def done() -> bool:
        busy = page.eval_on_selector("body", "b => b.dataset.busy")
        return searches(page) > more_than and busy == "false"

    poll(page, done, f"search number {more_than + 1}")


def result_labels(page) -> list[tuple[str, int]]:
    return [
        (el.get_attribute("data-modality"), int(el.get_attribute("data-label")))
        for el in page.query_selector_all("#results li.result")
    ]


def draw(page, points: list[tuple[float, float]], pause_ms: int = 0) -> None:
    """One stroke through `points` (fractions of the pad), with the mouse."""
    box = page.locator("#pad").bounding_box()

    def at(p: tuple[float, float]) -> tuple[float, float]:
        return box["x"] + p[0] * box["width"], box["y"] + p[1] * box["height"]

    page.mouse.move(*at(points[0]))
    page.mouse.down()
    for p in points[1:]:
        page.mouse.move(*at(p), steps=2)
        if pause_ms:
            page.wait_for_timeout(pause_ms)
    page.mouse.up()


def one_stroke() -> list[tuple[float, float]]:
    return [(0.5, 0.15 + 0.7 * i / 20) for i in range(21)]


def zero_stroke() -> list[tuple[float, float]]:
    return [
        (0.5 + 0.22 * math.sin(t), 0.5 - 0.33 * math.cos(t))
        for t in (i * 2 * math.pi / 40 for i in range(42))
    ]


def test_drawing_finds_spoken_digits_live(page) -> None:
    box = page.locator("#pad").bounding_box()
    points = one_stroke()
    page.mouse.move(box["x"] + points[0][0] * box["width"], box["y"] + points[0][1] * box["height"])
    page.mouse.down()
    seen_while_drawing = 0
    for p in points[1:]:
        page.mouse.move(box["x"] + p[0] * box["width"], box["y"] + p[1] * box["height"], steps=2)
        page.wait_for_timeout(60)
        seen_while_drawing = max(seen_while_drawing, searches(page))
    assert seen_while_drawing >= 1, "no search ran while the pen was still down"
    shot(page, "01-drawing-while-pen-down")
    before = searches(page)
    page.mouse.up()
    wait_searches(page, before)
    labels = result_labels(page)
    assert len(labels) == 5 and all(m == "audio" for m, _ in labels)
    assert [lab for _, lab in labels] == [1] * 5, labels
    assert page.text_content("#u-label") == "1"
    assert "image" in page.text_content("#u-modality")
    assert page.locator("#results audio").count() == 5
    shot(page, "02-drawn-one")

    page.click("#clear")
    before = searches(page)
    draw(page, zero_stroke())
    wait_searches(page, before)
    labels = result_labels(page)
    assert [lab for _, lab in labels] == [0] * 5, labels
    assert page.text_content("#u-label") == "0"
    shot(page, "03-drawn-zero")


def test_choosing_a_wav_finds_handwritten_digits(page, fsdd_clips: dict[int, Path]) -> None:
    before = searches(page)
    page.set_input_files("#file", str(fsdd_clips[7]))
    wait_searches(page, before)
    labels = result_labels(page)
    assert len(labels) == 5 and all(m == "image" for m, _ in labels)
    assert [lab for _, lab in labels] == [7] * 5, labels
    assert page.text_content("#u-label") == "7"
    assert page.locator("#results img").count() == 5
    # the images really load from /items/{id}/media
    poll(
        page,
        lambda: page.eval_on_selector_all(
            "#results img", "els => els.every(i => i.complete && i.naturalWidth > 0)"
        ),
        "the result images to load",
    )
    shot(page, "04-wav-file")


def test_microphone_recording_finds_that_digit(page) -> None:
    before = searches(page)
    page.locator("#record").hover()
    page.mouse.down()
    page.wait_for_selector("#record.on", timeout=TIMEOUT_MS)
    page.wait_for_timeout(1500)
    page.mouse.up()
    wait_searches(page, before)
    assert page.text_content("#mic-error") == ""
    assert "audio (wav)" in page.text_content("#u-modality")
    labels = result_labels(page)
    assert len(labels) == 5 and all(m == "image" for m, _ in labels)
    assert [lab for _, lab in labels] == [MIC_DIGIT] * 5, labels
    shot(page, "05-microphone")


def test_unsupported_file_shows_the_error_next_to_the_file_control(page, tmp_path: Path) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("these are not the pixels you are looking for\n")
    page.set_input_files("#file", str(bad))
    error = page.locator("#file-error")
    error.wait_for(state="visible", timeout=TIMEOUT_MS)
    assert "not supported" in error.text_content()
    assert page.text_content("#draw-error") == "" and page.text_content("#mic-error") == ""
    shot(page, "06-unsupported-file")


def test_farthest_toggle_shows_other_digits(page) -> None:
    before = searches(page)
    draw(page, one_stroke())
    wait_searches(page, before)
    nearest = result_labels(page)
    assert [lab for _, lab in nearest] == [1] * 5
    before = searches(page)
    page.check("#farthest")
    wait_searches(page, before)
    farthest = result_labels(page)
    assert len(farthest) == 5 and all(m == "audio" and lab != 1 for m, lab in farthest), farthest
    assert "most dissimilar" in page.text_content("#results-note")
    shot(page, "07-farthest")


def test_clicking_a_result_runs_a_similar_search(page, fsdd_clips: dict[int, Path]) -> None:
    before = searches(page)
    page.set_input_files("#file", str(fsdd_clips[3]))
    wait_searches(page, before)
    first = page.locator("#results li.result").first
    clicked_id = first.get_attribute("data-id")
    clicked_label = int(first.get_attribute("data-label"))
    before = searches(page)
    first.locator("button.similar").click()
    wait_searches(page, before)
    assert "more like this" in page.text_content("#u-modality")
    labels = result_labels(page)
    ids = page.eval_on_selector_all("#results li.result", "els => els.map(e => e.dataset.id)")
    # an image's "more like this" finds recordings (auto = the other modality) of its digit
    assert len(labels) == 5 and all(m == "audio" for m, _ in labels)
    assert [lab for _, lab in labels] == [clicked_label] * 5, labels
    assert clicked_id not in ids
    shot(page, "08-similar")


def test_map_shows_the_query_point_and_its_results(page, fsdd_clips: dict[int, Path]) -> None:
    points = int(page.get_attribute("#map", "data-points"))
    assert points == 400  # the small index: 200 images + 200 clips
    before = searches(page)
    page.set_input_files("#file", str(fsdd_clips[2]))
    wait_searches(page, before)
    page.wait_for_selector("#map[data-query]", timeout=TIMEOUT_MS)
    assert page.get_attribute("#map", "data-highlighted") == "5"
    x, y = (int(v) for v in page.get_attribute("#map", "data-query").split(","))
    pixel = page.eval_on_selector(
        "#map", "(map, [x, y]) => Array.from(map.getContext('2d').getImageData(x, y, 1, 1).data)", [x, y]
    )
    assert pixel == [0, 0, 0, 255], f"no query marker at ({x}, {y}): {pixel}"
    shot(page, "09-map")


def test_phone_sized_layout_keeps_every_control_reachable(page) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(200)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
    for selector in ("#pad", "#file", "#record", "#k", "#target", "#farthest"):
        assert page.locator(selector).is_visible(), selector
    # keyboard: tabbing from the top reaches the record button and the options
    reached = set()
    for _ in range(25):
        page.keyboard.press("Tab")
        reached.add(page.evaluate("document.activeElement.id"))
    assert {"pad", "undo", "clear", "file", "record", "k", "target", "farthest"} <= reached, reached
    shot(page, "10-phone")
