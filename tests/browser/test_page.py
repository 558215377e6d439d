"""The search page in a real Chromium: draw, choose a file, record, errors, farthest, similar, map.

Each test opens the page fresh, checks what a user would see, and saves a screenshot of
that state under tests/browser/artifacts/.
"""

from pathlib import Path

import pytest

from tests.browser.conftest import MIC_DIGIT
from tests.browser.helpers import (
    TIMEOUT_MS,
    draw,
    one_stroke,
    poll,
    result_labels,
    searches,
    shot,
    wait_searches,
    zero_stroke,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def page(ready_page) -> object:
    """The ready page (tests/browser/conftest.py) with its map drawn."""
    ready_page.wait_for_selector("#map[data-points]", timeout=TIMEOUT_MS)
    return ready_page


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


def test_a_refused_microphone_says_so_and_releases_the_button(page) -> None:
    # what the browser answers when the user blocks the microphone
    page.evaluate(
        "() => { navigator.mediaDevices.getUserMedia = () => "
        "Promise.reject(new DOMException('Permission denied', 'NotAllowedError')); }"
    )
    before = searches(page)
    record = page.locator("#record")
    record.focus()
    page.keyboard.down(" ")
    poll(page, lambda: page.text_content("#mic-error") != "", "the microphone error")
    page.keyboard.up(" ")
    assert "Microphone access was refused" in page.text_content("#mic-error")
    assert record.get_attribute("aria-pressed") == "false"
    assert "on" not in (record.get_attribute("class") or "").split()
    assert page.text_content("#mic-state") == ""
    assert searches(page) == before  # nothing was sent


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
