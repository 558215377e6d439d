"""Dynamic micro-batching: concurrent requests share one encoder forward pass.

A forward pass of the small encoders costs nearly the same for 1 item as for 16 on a CPU,
so under load the service embeds everything that queued up while the previous pass ran.
One worker thread runs the passes (torch uses one intra-op thread; a second pass in
parallel would only fight the first for the cores), and the event loop never blocks.

At concurrency 1 nothing waits: a lone request finds the worker idle and runs at once,
unless `max_wait_s` > 0 asks the worker to hold a pass open that long for company.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class _Pending(Generic[Item, Result]):
    item: Item
    future: asyncio.Future[Result]


class MicroBatcher(Generic[Item, Result]):
    """`await submit(item)` -> `run_batch([...items])[i]`, batching whatever is queued.

    `run_batch` takes a list and returns one result per item, in order. If it raises, each
    item of that batch is retried on its own, so one bad item fails only its own request.
    """

    def __init__(
        self,
        run_batch: Callable[[Sequence[Item]], Sequence[Result]],
        max_batch: int,
        max_wait_s: float = 0.0,
        name: str = "batch",
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._run_batch = run_batch
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self._queue: list[_Pending[Item, Result]] = []
        self._busy = False
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self.batches = 0  # passes run, and items they carried
        self.items = 0
        self._on_batch = on_batch  # told each pass's size (for /metrics)

    async def submit(self, item: Item) -> Result:
        loop = asyncio.get_running_loop()
        pending: _Pending[Item, Result] = _Pending(item, loop.create_future())
        self._queue.append(pending)
        if not self._busy:
            self._busy = True
            loop.create_task(self._drain())
        return await pending.future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                if self.max_wait_s > 0 and len(self._queue) < self.max_batch:
                    await asyncio.sleep(self.max_wait_s)
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                live = [p for p in batch if not p.future.done()]  # a cancelled request needs no pass
                if not live:
                    continue
                outcomes = await loop.run_in_executor(
                    self._executor, self._run_isolated, [p.item for p in live]
                )
                self.batches += 1
                self.items += len(live)
                if self._on_batch is not None:
                    self._on_batch(len(live))
                for pending, (ok, value) in zip(live, outcomes, strict=True):
                    if pending.future.done():
                        continue
                    if ok:
                        pending.future.set_result(cast(Result, value))
                    else:
                        pending.future.set_exception(cast(BaseException, value))
        finally:
            self._busy = False

    def _run_isolated(self, items: list[Item]) -> list[tuple[bool, Result | BaseException]]:
        try:
            results = list(self._run_batch(items))
        except Exception as exc:  # noqa: BLE001 - handed to the awaiting requests
            if len(items) == 1:
                return [(False, exc)]
            return [self._run_one(item) for item in items]  # every other request still gets its answer
        if len(results) != len(items):
            error = RuntimeError(f"run_batch returned {len(results)} results for {len(items)} items")
            return [(False, error)] * len(items)
        return [(True, r) for r in results]

    def _run_one(self, item: Item) -> tuple[bool, Result | BaseException]:
        try:
            return True, self._run_batch([item])[0]
        except Exception as exc:  # noqa: BLE001 - handed to that request's awaiter
            return False, exc

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
