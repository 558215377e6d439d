"""Where uploads are decoded and preprocessed: two bounded lanes, apart from the forward passes.

Preprocessing runs in threads of its own, so a slow decode never holds up the encoder's
forward passes (service.search.micro_batch) or the event loop. Its cost is read from the upload's
header before any decoding (models.preprocess.decoded_size: pixels or samples):

* light uploads (a canvas drawing, a thumbnail, a clip) share `light_threads` threads;
* heavy ones (big photos, long high-rate takes, and anything built to be costly) get one
  thread of their own, with at most `heavy_queue` waiting: past that, 503 + Retry-After at
  once. However many heavy uploads arrive, light ones keep their threads.

Every upload runs under a CPU budget (models.cpu_budget): past it, 422 `too_complex`.
"""

import asyncio
import ctypes
import ctypes.util
import functools
from concurrent.futures import ThreadPoolExecutor

from models.cpu_budget import cpu_budget
from models.encoder_config import EncoderConfig
from models.modality import Modality
from models.preprocess import PreparedQuery, decoded_size, prepare
from service.search.errors import HeavyLaneFull


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """The C library, looked up once (find_library runs ldconfig); None where there is none."""
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name) if name is not None else None


def _malloc_trim() -> None:
    """Give freed heap back to the OS (glibc only). A heavy upload's decoded pixels (up to
    hundreds of MB) are freed into the thread's malloc arena, which would otherwise keep them."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


class PreprocessPool:
    def __init__(
        self,
        config: EncoderConfig,
        light_threads: int,
        heavy_above: int,
        heavy_queue: int,
        cpu_budget_s: float,
    ) -> None:
        self.config = config
        self.heavy_above = heavy_above  # pixels or samples
        self.heavy_queue = heavy_queue
        self.cpu_budget_s = cpu_budget_s
        self.heavy_in_lane = 0  # waiting or running; event loop only
        self._light = ThreadPoolExecutor(light_threads, thread_name_prefix="preprocess")
        self._heavy = ThreadPoolExecutor(1, thread_name_prefix="preprocess-heavy")

    async def prepare(self, data: bytes, modality: Modality, fmt: str) -> PreparedQuery:
        """Raises the upload's MediaError (TooComplexError past the budget), or HeavyLaneFull."""
        loop = asyncio.get_running_loop()
        prepared = await loop.run_in_executor(self._light, self._prepare_if_light, data, modality, fmt)
        if prepared is not None:
            return prepared
        if self.heavy_in_lane >= self.heavy_queue:
            raise HeavyLaneFull(f"{self.heavy_queue} large uploads are already being prepared; retry shortly")
        self.heavy_in_lane += 1
        try:
            return await loop.run_in_executor(self._heavy, self._prepare_heavy, data)
        finally:
            self.heavy_in_lane -= 1

    def _prepare_if_light(self, data: bytes, modality: Modality, fmt: str) -> PreparedQuery | None:
        """Prepared on a light thread, or None: heavy, for the heavy lane (one hop either way)."""
        return self._prepare(data) if decoded_size(data, modality, fmt) <= self.heavy_above else None

    def _prepare_heavy(self, data: bytes) -> PreparedQuery:
        try:
            return self._prepare(data)
        finally:
            _malloc_trim()

    def _prepare(self, data: bytes) -> PreparedQuery:
        with cpu_budget(self.cpu_budget_s):
            return prepare(data, self.config)

    def close(self) -> None:
        for executor in (self._light, self._heavy):
            executor.shutdown(wait=True, cancel_futures=True)
