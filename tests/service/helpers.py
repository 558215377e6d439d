"""Shared helpers for the service tests: settings, index building, hand-made bad media."""

import asyncio
import struct
import threading
import time
import zlib
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import uvicorn

import store
from indexer import pipeline
from indexer.settings import IndexerSettings
from service.main import create_app
from service.settings import ServiceSettings
from tests.weaviate_server import free_port

REPO_CHECKPOINT = Path("models/checkpoints/digitbridge.pt")
SMALL_LIMIT = 200  # items per source in the session's small index
MAX_UPLOAD = 300_000  # small limit so the 413 tests stay cheap; real files are far below it
MAX_BATCH = 4
T = TypeVar("T")


def in_fresh_loop(scenario: Coroutine[Any, Any, T]) -> T:
    """asyncio.run on a thread of its own: a session-scoped browser (Playwright's sync API)
    may already hold an event loop in the main thread."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, scenario).result()


def settings_for(base: store.StoreSettings, **overrides: object) -> ServiceSettings:
    """Service settings pointing at the same server as `base`, with overrides."""
    return ServiceSettings(**{**base.model_dump(), **overrides})


def build_index(base: store.StoreSettings, collection: str, checkpoint: Path, limit: int | None) -> None:
    """Index the validation sets (at most `limit` per source) into `collection`, from scratch."""
    settings = IndexerSettings(
        **{**base.model_dump(), "collection": collection, "checkpoint": checkpoint},
        index_limit=limit,
        recreate=True,
    )
    report = pipeline.run(settings, progress=False)
    assert report.ok, (report.failures[:5], report.problems)


def wait_for(predicate: Callable[[], bool], seconds: float, what: str) -> float:
    start = time.monotonic()
    while not predicate():
        assert time.monotonic() - start < seconds, f"timed out after {seconds}s waiting for {what}"
        time.sleep(0.25)
    return time.monotonic() - start


@dataclass(frozen=True)
class Media:
    pngs: list[bytes]  # MNIST test images 0..9 as PNG (all in the small index)
    png_labels: list[int]
    wavs: list[bytes]  # FSDD validation clips, one per digit 0..9
    wav_labels: list[int]
    wav_names: list[str]


@dataclass
class LiveServer:
    url: str
    host: str
    port: int


@contextmanager
def live_server_for(settings: ServiceSettings) -> Iterator[LiveServer]:
    """The app behind a real uvicorn on a real socket (for what TestClient cannot show)."""
    port = free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", "127.0.0.1", port)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A tiny PNG whose header claims width x height 8-bit grey pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


def lying_wav(wav: bytes) -> bytes:
    """A real WAV whose data chunk claims ten times the bytes the file holds."""
    pos = wav.index(b"data")
    size = struct.unpack("<I", wav[pos + 4 : pos + 8])[0]
    return wav[: pos + 4] + struct.pack("<I", size * 10) + wav[pos + 8 :]


def sine_wav(seconds: float, rate: int = 8000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (np.sin(2 * np.pi * 440 * t) * 12000).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", len(pcm)) + pcm
    return b"RIFF" + struct.pack("<I", len(body)) + body
