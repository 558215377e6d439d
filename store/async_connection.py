"""An asyncio client to the same Weaviate server `connection.connect` opens or shares.

The service reads items ("more like this") on the event loop through this client (grpc.aio),
and searches through store.grpc_search on the same address: no thread is held while
Weaviate works. It never starts, leases or stops the embedded server: the
service's blocking client (connection.connect) does that and must be open first.
"""

from __future__ import annotations

from dataclasses import dataclass

import weaviate
from weaviate.classes.init import Auth

from store.connection import timeouts
from store.embedded import server
from store.errors import StoreUnavailable
from store.settings import StoreSettings


@dataclass(frozen=True)
class ServerAddress:
    """Where the settings' server listens and the key its clients send."""

    host: str
    http_port: int
    grpc_port: int
    secure: bool
    api_key: str | None


def server_address(settings: StoreSettings) -> ServerAddress:
    url = settings.weaviate_url
    if url is None:  # the embedded server listens on loopback, with a key of its own
        return ServerAddress(
            "127.0.0.1",
            settings.weaviate_port,
            settings.weaviate_grpc_port,
            False,
            server.local_key(settings),
        )
    assert url.host is not None
    secure = url.scheme == "https"
    key = settings.weaviate_api_key.get_secret_value() if settings.weaviate_api_key else None
    return ServerAddress(
        url.host, url.port or (443 if secure else 80), settings.weaviate_grpc_port, secure, key
    )


def open_async_client(settings: StoreSettings) -> weaviate.WeaviateAsyncClient:
    """A not yet connected asyncio client; `await client.connect()` inside the event loop."""
    a = server_address(settings)
    return weaviate.use_async_with_custom(
        http_host=a.host,
        http_port=a.http_port,
        http_secure=a.secure,
        grpc_host=a.host,
        grpc_port=a.grpc_port,
        grpc_secure=a.secure,
        auth_credentials=Auth.api_key(a.api_key) if a.api_key else None,
        additional_config=timeouts(settings),
        skip_init_checks=True,  # the blocking client checked the server; this one only searches
    )


async def connect_async(settings: StoreSettings) -> weaviate.WeaviateAsyncClient:
    client = open_async_client(settings)
    try:
        await client.connect()
    except Exception as exc:  # noqa: BLE001 - any failure to connect is "unavailable"
        await client.close()
        raise StoreUnavailable(f"cannot reach {settings.describe()} (asyncio client): {exc}") from exc
    return client
