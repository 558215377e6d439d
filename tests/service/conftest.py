"""Fixtures for the service tests: the session's real Weaviate (tests/conftest.py), a real
index built by the indexer's pipeline, the app under TestClient (lifespan running) and
behind a real uvicorn socket.

`small_index` indexes 200 MNIST test images + 200 FSDD clips once per session. The
checkpoint is the committed one when present, otherwise the session's untrained one of the
same architecture: these tests check plumbing, not quality. The acceptance test
(test_service_acceptance.py) insists on the trained checkpoint and the full index.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import store
from models.data import fsdd_items, load_mnist, mnist_png
from service.main import create_app
from service.settings import ServiceSettings
from tests.service.helpers import (
    MAX_BATCH,
    MAX_UPLOAD,
    SMALL_LIMIT,
    LiveServer,
    Media,
    build_index,
    live_server_for,
    settings_for,
)


@pytest.fixture(scope="session")
def service_checkpoint(plumbing_checkpoint: Path) -> Path:
    return plumbing_checkpoint


@pytest.fixture(scope="session")
def small_index(weaviate_settings: store.StoreSettings, service_checkpoint: Path) -> ServiceSettings:
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
def app(small_index: ServiceSettings) -> FastAPI:
    return create_app(small_index)


@pytest.fixture(scope="session")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:  # context manager: the lifespan runs
        yield c


@pytest.fixture(scope="session")
def media(small_index: ServiceSettings) -> Media:
    images, labels = load_mnist(small_index.data_dir, train=False)
    per_digit: dict[int, object] = {}
    for item in fsdd_items(small_index.data_dir, "validation"):
        per_digit.setdefault(item.label, item)
    clips = [per_digit[d] for d in sorted(per_digit)]
    return Media(
        pngs=[mnist_png(images[i]) for i in range(10)],
        png_labels=[int(x) for x in labels[:10]],
        wavs=[c.path.read_bytes() for c in clips],  # type: ignore[attr-defined]
        wav_labels=[c.label for c in clips],  # type: ignore[attr-defined]
        wav_names=[c.name for c in clips],  # type: ignore[attr-defined]
    )


@pytest.fixture(scope="session")
def live_server(small_index: ServiceSettings) -> Iterator[LiveServer]:
    """The app behind a real uvicorn on a real socket (for what TestClient cannot show)."""
    with live_server_for(small_index) as server:
        yield server
