"""Fixtures for the browser tests: Debian's Chromium driven by Playwright against the service
behind a real uvicorn socket and the session's real Weaviate (tests/service fixtures).

Chromium is not optional here: when /usr/bin/chromium or Playwright is missing the tests
fail with the command that installs them (`make test` installs both).
Screenshots of each state land in ARTIFACTS (printed at the end of the session).
"""

import struct
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from models.data import fsdd_items
from service.settings import ServiceSettings

# the service fixtures, shared rather than copied (importing them registers them here)
from tests.service.conftest import live_server, service_checkpoint, small_index  # noqa: F401
from tests.service.helpers import LiveServer

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
MIC_DIGIT = 4  # the digit the fake microphone says
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


def padded_wav(source: Path, target: Path, lead_s: float = 0.2, tail_s: float = 2.5) -> Path:
    """The clip with silence around it, as 16-bit mono: Chromium loops the fake capture file,
    so the silence keeps a short recording to one utterance."""
    with wave.open(str(source)) as w:
        rate, width, channels = w.getframerate(), w.getsampwidth(), w.getnchannels()
        frames = w.readframes(w.getnframes())
    assert width == 2 and channels == 1, "FSDD clips are 16-bit mono"
    pcm = np.frombuffer(frames, dtype="<i2")
    out = np.concatenate([np.zeros(int(lead_s * rate), "<i2"), pcm, np.zeros(int(tail_s * rate), "<i2")])
    with wave.open(str(target), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack(f"<{len(out)}h", *out.tolist()))
    return target


def pytest_configure(config: pytest.Config) -> None:
    # registered here too, so --strict-markers holds whatever pyproject lists
    config.addinivalue_line("markers", "browser: drives a real Chromium")


@pytest.fixture(scope="session")
def fsdd_clips(small_index: ServiceSettings) -> dict[int, Path]:  # noqa: F811
    """One FSDD validation clip per digit."""
    clips: dict[int, Path] = {}
    for item in fsdd_items(small_index.data_dir, "validation"):
        clips.setdefault(item.label, item.path)
    assert sorted(clips) == list(range(10))
    return clips


@pytest.fixture(scope="session")
def playwright() -> Iterator[object]:
    """One Playwright driver for the session (a second sync driver cannot start beside it)."""
    assert CHROMIUM.is_file(), f"{CHROMIUM} is missing: apt-get install -y chromium (make test does)"
    from playwright.sync_api import sync_playwright  # missing package: ImportError, loud

    with sync_playwright() as p:
        yield p


def launch_with_microphone(playwright: object, profile: Path, wav: Path) -> object:
    """A fresh Chromium profile whose fake microphone plays `wav` (in a loop)."""
    return playwright.chromium.launch_persistent_context(  # type: ignore[attr-defined]
        str(profile),
        executable_path=str(CHROMIUM),
        headless=True,
        args=[*LAUNCH_ARGS, f"--use-file-for-fake-audio-capture={wav}"],
        viewport={"width": 1280, "height": 1000},
    )


@pytest.fixture(scope="session")
def chromium(
    playwright: object, tmp_path_factory: pytest.TempPathFactory, fsdd_clips: dict[int, Path]
) -> Iterator[object]:
    """A fresh Chromium profile with a fake microphone that says MIC_DIGIT."""
    wav = padded_wav(fsdd_clips[MIC_DIGIT], tmp_path_factory.mktemp("mic") / "mic.wav")
    ARTIFACTS.mkdir(exist_ok=True)
    context = launch_with_microphone(playwright, tmp_path_factory.mktemp("chromium-profile"), wav)
    yield context
    context.close()
    print(f"\nbrowser test screenshots: {ARTIFACTS}")


@pytest.fixture
def ready_page(chromium: object, live_server: LiveServer) -> Iterator[object]:  # noqa: F811
    """The page, loaded and ready; any console error or CSP violation fails the test."""
    from tests.browser.helpers import TIMEOUT_MS, watched_page  # helpers import this module

    with watched_page(chromium) as page:
        page.goto(live_server.url + "/")
        page.wait_for_selector("#status[data-state='ready']", timeout=TIMEOUT_MS)
        yield page
