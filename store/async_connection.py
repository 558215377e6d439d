"""An asyncio client to the same Weaviate server `connection.connect` opens or shares.

The service runs its searches on the event loop through this client (grpc.aio), so a search
in flight holds no thread. It never starts, leases or stops the embedded server: the
service's blocking client (connection.connect) does that and must be open first.
"""

from __future__ import annotations

import weaviate
from weaviate.classes.init import Auth

from store.connection import timeouts
from store.embedded import server
from store.errors import StoreUnavailable
from store.settings import StoreSettings


def open_async_client(settings: StoreSettings) -> weaviate.WeaviateAsyncClient:
    """A not yet connected asyncio client; `await client.connect()` inside the event loop."""
    url = settings.weaviate_url
    if url is None:
        host, port, secure = "127.0.0.1", settings.weaviate_port, False
        key: str | None = server.local_key(settings)
    else:
        assert url.host is not None
        secure = url.scheme == "https"
        host, port = url.host, url.port or (443 if secure else 80)
        key = settings.weaviate_api_key.get_secret_value() if settings.weaviate_api_key else None
    return weaviate.use_async_with_custom(
        http_host=host,
        http_port=port,
        http_secure=secure,
        grpc_host=host,
        grpc_port=settings.weaviate_grpc_port,
        grpc_secure=secure,
        auth_credentials=Auth.api_key(key) if key else None,
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
