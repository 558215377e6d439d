"""Connecting asks only the Weaviate server: no request leaves for the internet (weaviate-client's
start-up checks call pypi.org), and a gRPC port that does not answer still fails at connect."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import store
from store.embedded import server
from tests.outbound import OutboundRecorder
from tests.weaviate_server import free_port


@pytest.fixture
def outbound_https(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """What reaches a stand-in for the internet while the test runs (tests/outbound.py)."""
    with OutboundRecorder() as recorder:
        for name, value in recorder.proxy_env().items():
            monkeypatch.setenv(name, value)
        yield recorder.seen


def remote(settings: store.StoreSettings, **overrides: object) -> store.StoreSettings:
    """The test server reached as a remote one (WEAVIATE_URL, with its key)."""
    url = f"http://127.0.0.1:{settings.weaviate_port}"
    values = {**settings.model_dump(), "weaviate_url": url, "weaviate_api_key": server.local_key(settings)}
    return store.StoreSettings(**{**values, **overrides})


def test_connecting_to_the_embedded_server_calls_nothing_outside(
    weaviate_settings: store.StoreSettings, outbound_https: list[str]
) -> None:
    client = store.connect(weaviate_settings)
    try:
        assert client.is_ready()
    finally:
        client.close()
    assert outbound_https == []


def test_connecting_to_a_remote_server_calls_nothing_outside(
    weaviate_settings: store.StoreSettings, outbound_https: list[str]
) -> None:
    settings = remote(weaviate_settings)
    client = store.connect(settings)
    try:
        assert client.is_ready()
        assert client.collections.list_all() is not None
    finally:
        client.close()
    assert outbound_https == []


def test_a_grpc_port_that_does_not_answer_fails_at_connect(weaviate_settings: store.StoreSettings) -> None:
    settings = remote(weaviate_settings, weaviate_grpc_port=free_port(), weaviate_timeout_s=2.0)
    with pytest.raises(store.StoreUnavailable, match="WEAVIATE_GRPC_PORT"):
        store.connect(settings)
