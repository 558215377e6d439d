"""An asyncio client to the same Weaviate server `connection.connect` opens or shares.

The service reads items ("more like this") on the event loop through this client (grpc.aio),
and searches through store.grpc_search on the same address (connection.server_address): no
thread is held while Weaviate works. It never starts, leases or stops the embedded server: the
service's blocking client (connection.connect) does that and must be open first.
"""

from __future__ import annotations

import weaviate
from weaviate.classes.init import Auth

from store.connection import server_address, server_key, timeouts
from store.errors import StoreUnavailable
from store.settings import StoreSettings


def open_async_client(settings: StoreSettings) -> weaviate.WeaviateAsyncClient:
    """A not yet connected asyncio client; `await client.connect()` inside the event loop."""
    a, key = server_address(settings), server_key(settings)
    return weaviate.use_async_with_custom(
        http_host=a.host,
        http_port=a.http_port,
        http_secure=a.secure,
        grpc_host=a.host,
        grpc_port=a.grpc_port,
        grpc_secure=a.secure,
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
