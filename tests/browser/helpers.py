"""What the browser tests do on the page: open it watched, draw, wait, read results, screenshot."""

import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.browser.conftest import ARTIFACTS

TIMEOUT_MS = 20_000
# the browser logs every 4xx it gets; the page answers those in words (asserted per test)
CLIENT_ERRORS = "Failed to load resource: the server responded with a status of 4"
SERVICE_UNAVAILABLE = "Failed to load resource: the server responded with a status of 503"


@contextmanager
def watched_page(context, allowed: tuple[str, ...] = (CLIENT_ERRORS,)) -> Iterator[object]:
    """A new tab; any console error (a CSP violation included) or page error fails the test,
    except the logged answers named in `allowed`."""
    page = context.new_page()
    problems: list[str] = []

    def on_console(message) -> None:  # type: ignore[no-untyped-def]
        if message.type == "error" and not any(a in message.text for a in allowed):
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda e: problems.append(str(e)))
    try:
        yield page
    finally:
        page.close()
    assert problems == [], problems


def shot(page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def poll(page, check: Callable[[], bool], what: str) -> None:
    """Wait for check() from Python: the page's CSP (rightly) forbids the eval behind
    Playwright's wait_for_function."""
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        page.wait_for_timeout(50)


def searches(page) -> int:
    return int(page.eval_on_selector("body", "b => b.dataset.searchCount"))


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
