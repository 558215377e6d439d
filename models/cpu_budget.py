"""A per-upload CPU budget, checked between the steps of preprocessing.

Each step's cost is already bounded by the decode limits (pixels, frames, bytes); the
budget bounds their sum with one number the content cannot raise: past it the upload is
refused as too complex instead of running on. It counts this thread's own CPU time, so a
loaded machine (time spent waiting for a core) does not push a legitimate upload over it.
Outside `cpu_budget(...)` (training, indexing) the checks cost nothing and never fire.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from models.media_errors import MediaError


class TooComplexError(MediaError):
    """The upload needed more CPU than one upload may use."""

    code = "too_complex"


_limit: ContextVar[tuple[float, float] | None] = ContextVar("cpu_budget", default=None)


@contextmanager
def cpu_budget(seconds: float) -> Iterator[None]:
    """Within this block, `check_budget` raises once the thread has used `seconds` of CPU."""
    token = _limit.set((time.thread_time() + seconds, seconds))
    try:
        yield
    finally:
        _limit.reset(token)


def check_budget(step: str) -> None:
    limit = _limit.get()
    if limit is not None and time.thread_time() > limit[0]:
        raise TooComplexError(
            f"the upload needed more than {limit[1]:g} s of CPU to prepare (at: {step}); "
            "send a smaller or simpler file"
        )
