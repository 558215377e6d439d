"""Shared helpers for the service tests: settings, index building, hand-made bad media."""

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

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


def read_response(sock: socket.socket) -> bytes:
    """One whole HTTP/1.1 response from a raw socket: its head, then Content-Length bytes of
    body (or what came before the server closed). A single recv may return only the head."""
    data = b""
    while b"\r\n\r\n" not in data and (chunk := sock.recv(65_536)):
        data += chunk
    head, separator, body = data.partition(b"\r\n\r\n")
    fields = [line.split(b":", 1) for line in head.split(b"\r\n")[1:]]
    length = next((int(value) for name, value in fields if name.strip().lower() == b"content-length"), 0)
    while separator and len(body) < length and (chunk := sock.recv(65_536)):
        body += chunk
    return head + separator + body


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
