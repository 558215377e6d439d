"""Open a client to the configured Weaviate: a remote server (WEAVIATE_URL) or the shared
embedded one (store.embedded.server). Every step has a bounded timeout; an unreachable server
raises StoreUnavailable naming the setting to fix, never a hang."""

from __future__ import annotations

from dataclasses import dataclass

import weaviate
from weaviate.classes.init import AdditionalConfig, Auth, Timeout
from weaviate.exceptions import WeaviateBaseError

from store.embedded import server, supervisor
from store.errors import StoreUnavailable
from store.grpc_health import check_grpc
from store.settings import StoreSettings


@dataclass(frozen=True)
class ServerAddress:
    """Where the settings' server listens: its HTTP and gRPC ports on one host."""

    host: str
    http_port: int
    grpc_port: int
    secure: bool


def server_address(settings: StoreSettings) -> ServerAddress:
    url = settings.weaviate_url
    if url is None:  # the embedded server listens on loopback
        return ServerAddress("127.0.0.1", settings.weaviate_port, settings.weaviate_grpc_port, False)
    assert url.host is not None
    secure = url.scheme == "https"
    return ServerAddress(url.host, url.port or (443 if secure else 80), settings.weaviate_grpc_port, secure)


def server_key(settings: StoreSettings) -> str | None:
    """The key clients send: the embedded server's own (kept with its data), or WEAVIATE_API_KEY."""
    if settings.weaviate_url is None:
        return server.local_key(settings)
    return settings.weaviate_api_key.get_secret_value() if settings.weaviate_api_key else None


def query_timeout_s(settings: StoreSettings) -> float:
    """Each read's deadline: a query waits for at least 10 s whatever WEAVIATE_TIMEOUT_S says."""
    return max(settings.weaviate_timeout_s, 10.0)


def timeouts(settings: StoreSettings) -> AdditionalConfig:
    """Client deadlines. The insert deadline is also how long a degraded write can take:
    Weaviate's coordinator waits for a hung replica, so the client's deadline is the bound."""
    t = settings.weaviate_timeout_s
    return AdditionalConfig(
        timeout=Timeout(init=t, query=query_timeout_s(settings), insert=settings.weaviate_write_timeout_s)
    )


def connect(settings: StoreSettings, *, supervised: bool = False) -> weaviate.WeaviateClient:
    """Open a client to the configured server (starting or sharing the embedded one); close it when done.

    supervised=True (long-lived users: the service, `make run`, the indexer): while the client
    is open, this process restarts the embedded server when it dies (store.embedded.supervisor;
    `supervisor_status(settings)` says how it is). No effect with WEAVIATE_URL.
    """
    try:
        if settings.weaviate_url is not None:
            return _connect_url(settings)
        client = server.connect(settings, timeouts(settings))
        if supervised:
            watcher = supervisor.supervise(settings, timeouts(settings))
            server.on_close(client, lambda: supervisor.unsupervise(watcher))
        return client
    except StoreUnavailable:
        raise
    except (WeaviateBaseError, OSError) as exc:
        raise StoreUnavailable(f"cannot reach {settings.describe()}: {exc}") from exc


def _connect_url(settings: StoreSettings) -> weaviate.WeaviateClient:
    a, key = server_address(settings), server_key(settings)
    client = weaviate.connect_to_custom(
        http_host=a.host,
        http_port=a.http_port,
        http_secure=a.secure,
        grpc_host=a.host,
        grpc_port=a.grpc_port,
        grpc_secure=a.secure,
        auth_credentials=Auth.api_key(key) if key else None,
        additional_config=timeouts(settings),
        skip_init_checks=True,  # they call pypi.org (store.grpc_health); gRPC is checked below
    )
    try:
        check_grpc(a.host, a.grpc_port, a.secure, settings.weaviate_timeout_s)
    except StoreUnavailable:
        client.close()
        raise
    return client
