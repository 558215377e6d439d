"""Fixtures for the service tests: real Weaviate (tests/conftest.py's server), real index, real HTTP.

`small_index` indexes 200 MNIST test images + 200 FSDD clips once per session (quick); the
acceptance test builds the full index in its own collection. The checkpoint is the committed
one when present; the plumbing tests also run with an untrained model of the same shape,
the acceptance test insists on the trained one.
"""

import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from indexer import pipeline, store
from models.config import EncoderConfig
from models.data import fsdd_items, load_mnist, mnist_png
from models.encoders import DigitEncoders, save_checkpoint
from service.config import Settings
from service.main import create_app

REPO_CHECKPOINT = Path("models/checkpoints/digitbridge.pt")
SMALL_LIMIT = 200  # items per source in the session's small index
MAX_UPLOAD = 300_000  # small limit so the 413 tests stay cheap; real files are far below it
MAX_BATCH = 4


def settings_for(base: store.WeaviateSettings, **overrides: object) -> Settings:
    """Service settings pointing at the same server as `base`, with overrides."""
    return Settings(**{**base.model_dump(), **overrides})


@pytest.fixture(scope="session")
def service_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if REPO_CHECKPOINT.is_file():
        return REPO_CHECKPOINT.resolve()
    path = tmp_path_factory.mktemp("checkpoint") / "untrained.pt"
    torch.manual_seed(0)
    save_checkpoint(DigitEncoders(EncoderConfig()), path, {"note": "untrained, service plumbing tests"})
    return path


def build_index(base: store.WeaviateSettings, collection: str, checkpoint: Path, limit: int | None) -> None:
    settings = pipeline.IndexerSettings(
        **{**base.model_dump(), "collection": collection, "checkpoint": checkpoint},
        index_limit=limit,
        recreate=True,
    )
    report = pipeline.run(settings, progress=False)
    assert report.ok, (report.failures[:5], report.problems)


@pytest.fixture(scope="session")
def small_index(weaviate_settings: store.WeaviateSettings, service_checkpoint: Path) -> Settings:
    build_index(weaviate_settings, "SvcSmall", service_checkpoint, SMALL_LIMIT)
    return settings_for(
        weaviate_settings,
        collection="SvcSmall",
        checkpoint=service_checkpoint,
        device="cpu",
        max_upload_bytes=MAX_UPLOAD,
        max_batch_files=MAX_BATCH,
    )


@pytest.fixture(scope="session")
def app(small_index: Settings) -> FastAPI:
    return create_app(small_index)


@pytest.fixture(scope="session")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:  # context manager: the lifespan runs
        yield c


# ---------------------------------------------------------------- real media


@dataclass(frozen=True)
class Media:
    pngs: list[bytes]  # MNIST test images 0..9 as PNG (all in the small index)
    png_labels: list[int]
    wavs: list[bytes]  # FSDD validation clips, one per digit 0..9
    wav_labels: list[int]
    wav_names: list[str]


@pytest.fixture(scope="session")
def media(small_index: Settings) -> Media:
    images, labels = load_mnist(small_index.data_dir, train=False)
    items = fsdd_items(small_index.data_dir, "validation")
    per_digit = {}
    for item in items:
        per_digit.setdefault(item.label, item)
    clips = [per_digit[d] for d in sorted(per_digit)]
    return Media(
        pngs=[mnist_png(images[i]) for i in range(10)],
        png_labels=[int(x) for x in labels[:10]],
        wavs=[c.path.read_bytes() for c in clips],
        wav_labels=[c.label for c in clips],
        wav_names=[c.name for c in clips],
    )


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A tiny PNG whose header claims width x height 8-bit grey pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


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


# ---------------------------------------------------------------- live server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    host: str
    port: int


@pytest.fixture(scope="session")
def live_server(small_index: Settings) -> Iterator[LiveServer]:
    """The app behind a real uvicorn on a real socket (for what TestClient cannot show)."""
    port = free_port()
    config = uvicorn.Config(create_app(small_index), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield LiveServer(f"http://127.0.0.1:{port}", "127.0.0.1", port)
    server.should_exit = True
    thread.join(timeout=30)
