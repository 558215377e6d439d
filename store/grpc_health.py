"""Whether a Weaviate server's gRPC port answers: its health check, asked once at connect.

weaviate-client asks the same at connect, but only together with a request to pypi.org for its
own latest version (a warning if outdated). A service should not call the internet to start:
where egress is dropped, that request waited out WEAVIATE_TIMEOUT_S on every connect, the
supervisor's reconnects included. So our clients skip the client's start-up checks and ask the
gRPC health check here instead; a wrong gRPC port still fails at connect, naming it.
"""

from __future__ import annotations

import grpc
from weaviate.proto.v1 import health_weaviate_pb2

from store.errors import StoreUnavailable

_SERVING = health_weaviate_pb2.WeaviateHealthCheckResponse.SERVING
_CHECK = "/grpc.health.v1.Health/Check"  # Weaviate serves its own messages under the standard name


def check_grpc(host: str, port: int, secure: bool, timeout_s: float) -> None:
    """Raise StoreUnavailable unless host:port answers Weaviate's gRPC health check as serving."""
    target = f"{host}:{port}"
    if secure:
        channel = grpc.secure_channel(target, grpc.ssl_channel_credentials())
    else:
        channel = grpc.insecure_channel(target)
    try:
        check = channel.unary_unary(
            _CHECK,
            request_serializer=health_weaviate_pb2.WeaviateHealthCheckRequest.SerializeToString,
            response_deserializer=health_weaviate_pb2.WeaviateHealthCheckResponse.FromString,
        )
        reply = check(health_weaviate_pb2.WeaviateHealthCheckRequest(), timeout=timeout_s)
    except grpc.RpcError as exc:
        raise StoreUnavailable(
            f"Weaviate's gRPC port {target} does not answer (WEAVIATE_GRPC_PORT): {exc.code().name}"
        ) from exc
    finally:
        channel.close()
    if reply.status != _SERVING:
        raise StoreUnavailable(f"Weaviate's gRPC port {target} answers {reply.status} (not serving)")
