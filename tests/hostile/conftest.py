"""Hostile input through real HTTP: the service fixtures of tests/service (the session's real
Weaviate, the small index, the app behind a real uvicorn), shared rather than copied."""

from collections.abc import Iterator

import httpx
import pytest

from tests.service.conftest import live_server, media, service_checkpoint, small_index  # noqa: F401
from tests.service.helpers import LiveServer


@pytest.fixture(scope="session")
def http(live_server: LiveServer) -> Iterator[httpx.Client]:  # noqa: F811
    with httpx.Client(base_url=live_server.url, timeout=60.0) as client:
        yield client
