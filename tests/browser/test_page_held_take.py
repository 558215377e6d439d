""" "Hold to record" as people do it, in a real Chromium: the fake microphone plays a 48 kHz take
with a second of room tone before and after the word, the click of the button at both ends and
a breath before the word; the page's recording of it finds that digit."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import resample_poly

from models.wav import read_wav, write_wav
from tests.browser.conftest import launch_with_microphone
from tests.browser.helpers import TIMEOUT_MS, result_labels, searches, shot, wait_searches, watched_page
from tests.service.helpers import LiveServer
from training.ood.take_noises import breath, click

pytestmark = pytest.mark.browser

TAKE_DIGIT = 7  # "seven": its quiet /s/ onset is what a room's noise floor hides first
RATE = 48_000
ROOM_S = 1.0  # room tone before and after the word


def held_take(word_path: Path, target: Path) -> tuple[Path, float]:
    """(the take as a 48 kHz 16-bit WAV, how long to hold the button in seconds).

    Room tone 50 dB under the word's peak throughout, a breath 0.2 s before the word, a click
    as the button goes down and another as it comes up; a long tail of room tone after, since
    Chromium loops the file and the take must hold the word once."""
    rng = np.random.default_rng(7)
    samples, rate = read_wav(word_path.read_bytes(), 8_000, 8_000, 10.0)
    word = resample_poly(samples[0].astype(np.float64), RATE // rate, 1)  # 8 -> 48 kHz
    word *= 0.3 / np.abs(word).max()
    room, tail = int(ROOM_S * RATE), 4 * RATE
    take = np.zeros(room + word.size + room + tail)
    take[room : room + word.size] = word
    puff = 0.3 * 10 ** (-28 / 20) * breath(rng, RATE)
    take[room - int(0.2 * RATE) - puff.size : room - int(0.2 * RATE)] += puff
    take += 0.3 * 10 ** (-50 / 20) * rng.standard_normal(take.size)
    for at in (int(0.05 * RATE), 2 * room + word.size - int(0.05 * RATE)):
        snap = click(rng, RATE)
        take[at : at + snap.size] += 0.25 * snap
    target.write_bytes(write_wav(take[None].astype(np.float32), RATE, bits=16))
    return target, (2 * room + word.size) / RATE


@pytest.fixture(scope="module")
def take(tmp_path_factory: pytest.TempPathFactory, fsdd_clips: dict[int, Path]) -> tuple[Path, float]:
    return held_take(fsdd_clips[TAKE_DIGIT], tmp_path_factory.mktemp("take") / "take.wav")


@pytest.fixture(scope="module")
def take_browser(
    playwright: object, tmp_path_factory: pytest.TempPathFactory, take: tuple[Path, float]
) -> Iterator[object]:
    """Chromium whose fake microphone plays the held take."""
    context = launch_with_microphone(playwright, tmp_path_factory.mktemp("chromium-take-profile"), take[0])
    yield context
    context.close()


def test_a_held_take_with_room_tone_around_the_word_finds_that_digit(
    take_browser: object, take: tuple[Path, float], live_server: LiveServer
) -> None:
    with watched_page(take_browser) as page:
        page.goto(live_server.url + "/")
        page.wait_for_selector("#status[data-state='ready']", timeout=TIMEOUT_MS)
        page.select_option("#target", "image")
        before = searches(page)
        page.locator("#record").hover()
        page.mouse.down()
        page.wait_for_selector("#record.on", timeout=TIMEOUT_MS)
        page.wait_for_timeout(int(1000 * take[1]))  # the whole take: room, word, room
        page.mouse.up()
        wait_searches(page, before)
        assert page.text_content("#mic-error") == ""
        labels = result_labels(page)
        assert len(labels) == 5 and all(m == "image" for m, _ in labels)
        assert [lab for _, lab in labels] == [TAKE_DIGIT] * 5, labels
        assert page.text_content("#u-label") == str(TAKE_DIGIT)  # the model's reading of the take
        shot(page, "held-take-01")
