"""MicroBatcher: concurrent submissions share passes, results and errors stay with their request."""

import asyncio
import threading
from collections.abc import Sequence
from typing import TypeVar

import pytest

from service.search.micro_batch import MicroBatcher
from tests.service.helpers import in_fresh_loop

T = TypeVar("T")


class Recorder:
    """A run_batch that squares numbers, remembers each batch, and refuses negatives."""

    def __init__(self, hold: threading.Event | None = None) -> None:
        self.batches: list[list[int]] = []
        self.hold = hold

    def __call__(self, items: Sequence[int]) -> list[int]:
        if self.hold is not None:
            self.hold.wait(5)
        self.batches.append(list(items))
        if any(i < 0 for i in items):
            raise ValueError("negative")
        return [i * i for i in items]


def test_requests_queued_during_a_pass_share_the_next_one() -> None:
    hold = threading.Event()
    run = Recorder(hold)
    batcher = MicroBatcher(run, max_batch=8)

    async def scenario() -> list[int]:
        first = asyncio.ensure_future(batcher.submit(1))
        await asyncio.sleep(0.05)  # the first pass is now running (held)
        rest = [asyncio.ensure_future(batcher.submit(i)) for i in range(2, 12)]
        await asyncio.sleep(0.05)
        hold.set()
        return [await first] + [await r for r in rest]

    results = in_fresh_loop(scenario())
    batcher.close()
    assert results == [i * i for i in range(1, 12)]
    assert run.batches[0] == [1]
    assert run.batches[1:] == [[2, 3, 4, 5, 6, 7, 8, 9], [10, 11]]  # bounded by max_batch
    assert (batcher.batches, batcher.items) == (3, 11)


def test_one_bad_item_fails_only_its_own_request() -> None:
    hold = threading.Event()
    batcher = MicroBatcher(Recorder(hold), max_batch=8)

    async def scenario() -> list[object]:
        first = asyncio.ensure_future(batcher.submit(0))
        await asyncio.sleep(0.05)
        queued = [asyncio.ensure_future(batcher.submit(i)) for i in (2, -3, 4)]
        hold.set()
        return await asyncio.gather(first, *queued, return_exceptions=True)

    results = in_fresh_loop(scenario())
    batcher.close()
    assert results[0] == 0 and results[1] == 4 and results[3] == 16
    assert isinstance(results[2], ValueError)


def test_a_lone_request_does_not_wait_for_company() -> None:
    run = Recorder()
    batcher = MicroBatcher(run, max_batch=8, max_wait_s=0.0)

    async def scenario() -> list[int]:
        return [await batcher.submit(i) for i in range(5)]

    assert in_fresh_loop(scenario()) == [0, 1, 4, 9, 16]
    batcher.close()
    assert run.batches == [[0], [1], [2], [3], [4]]


def test_max_wait_collects_requests_arriving_within_the_window() -> None:
    run = Recorder()
    batcher = MicroBatcher(run, max_batch=8, max_wait_s=0.2)

    async def scenario() -> list[int]:
        first = asyncio.ensure_future(batcher.submit(1))
        await asyncio.sleep(0.01)  # well inside the configured window
        second = asyncio.ensure_future(batcher.submit(2))
        return [await first, await second]

    assert in_fresh_loop(scenario()) == [1, 4]
    batcher.close()
    assert run.batches == [[1, 2]]


@pytest.mark.parametrize("bad_count", [0, 2])
def test_a_wrong_number_of_results_is_an_error_not_a_mismatch(bad_count: int) -> None:
    batcher: MicroBatcher[int, int] = MicroBatcher(lambda items: [0] * bad_count, max_batch=4)
    with pytest.raises(RuntimeError, match="results for 1 items"):
        in_fresh_loop(batcher.submit(1))
    batcher.close()
