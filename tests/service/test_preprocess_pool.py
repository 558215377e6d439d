"""PreprocessPool (service/search/preprocess_pool.py) on its own: light uploads on the light threads,
heavy ones in their own lane with a bounded queue, every upload under the CPU budget."""

import asyncio
import threading

import pytest

from models.cpu_budget import TooComplexError
from models.encoder_config import EncoderConfig
from service.api.errors import search_error
from service.search.errors import HeavyLaneFull
from service.search.preprocess_pool import PreprocessPool
from tests.hostile.costly import gradient_16bit_png
from tests.media import digit_image
from tests.service.helpers import in_fresh_loop


def pool(**overrides: float) -> PreprocessPool:
    options = {"light_threads": 2, "heavy_above": 1_000_000, "heavy_queue": 1, "cpu_budget_s": 30.0}
    return PreprocessPool(EncoderConfig(), **{**options, **overrides})  # type: ignore[arg-type]


def thread_of(lanes: PreprocessPool, data: bytes) -> str:
    seen: list[str] = []
    original = lanes._prepare

    def spy(upload: bytes) -> object:
        seen.append(threading.current_thread().name)
        return original(upload)

    lanes._prepare = spy  # type: ignore[method-assign]
    in_fresh_loop(lanes.prepare(data, "image", "png"))
    return seen[0]


def test_light_and_heavy_uploads_run_in_their_own_lanes() -> None:
    lanes = pool()
    try:
        assert thread_of(lanes, digit_image("PNG")).startswith("preprocess_")
        assert thread_of(lanes, gradient_16bit_png(2000, 2000)).startswith("preprocess-heavy")
    finally:
        lanes.close()


def test_a_full_heavy_lane_refuses_at_once_and_light_uploads_still_pass() -> None:
    lanes = pool(heavy_above=100_000)
    heavy = gradient_16bit_png(6000, 6000)

    async def scenario() -> None:
        first = asyncio.create_task(lanes.prepare(heavy, "image", "png"))
        for _ in range(500):
            if lanes.heavy_in_lane:
                break
            await asyncio.sleep(0.01)
        assert lanes.heavy_in_lane == 1
        with pytest.raises(HeavyLaneFull) as raised:
            await lanes.prepare(heavy, "image", "png")
        refused = search_error(raised.value)  # what the client gets
        assert (refused.status, refused.code) == (503, "overloaded")
        assert refused.headers and int(refused.headers["Retry-After"]) > 0
        light = await lanes.prepare(digit_image("PNG"), "image", "png")
        assert light.tensor.shape == (1, 28, 28)
        await first
        assert lanes.heavy_in_lane == 0

    try:
        in_fresh_loop(scenario())
    finally:
        lanes.close()


def test_every_upload_is_prepared_under_the_cpu_budget() -> None:
    lanes = pool(cpu_budget_s=0.0)
    try:
        with pytest.raises(TooComplexError):
            in_fresh_loop(lanes.prepare(digit_image("PNG"), "image", "png"))
    finally:
        lanes.close()
