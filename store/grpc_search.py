"""The service's nearest-vector search as one call on Weaviate's gRPC API.

weaviate-client's query path is general (any property type, references, vectors, generative
results); its request building and result parsing were a measurable share of a search's CPU
(BENCHMARKS.md). A search needs seven short properties, the id and the distance: this builds
that request from Weaviate's own protocol messages (the ones weaviate-client ships), sends it
on a grpc.aio channel, and reads the reply's fields directly. Same server, same query, same
answer (tests/store/test_grpc_search.py compares it with the client's).
"""

from __future__ import annotations

import grpc
import numpy as np
from weaviate.proto.v1 import base_pb2, base_search_pb2, search_get_pb2, weaviate_pb2_grpc

from models.modality import MODALITIES, Modality
from store.connection import ServerAddress
from store.errors import StoreUnavailable
from store.queries import METADATA_PROPERTIES, Hit, SearchRequest

_PROPERTIES = search_get_pb2.PropertiesRequest(non_ref_properties=METADATA_PROPERTIES)
_METADATA = search_get_pb2.MetadataRequest(uuid=True, distance=True)
_SINGLE = base_pb2.Vectors.VECTOR_TYPE_SINGLE_FP32
_MODALITY = base_pb2.FilterTarget(property="modality")
_FILTERS: dict[Modality | None, base_pb2.Filters] = {  # every query is filtered (see SearchRequest)
    m: base_pb2.Filters(operator=base_pb2.Filters.OPERATOR_EQUAL, target=_MODALITY, value_text=m)
    for m in MODALITIES
}
_FILTERS[None] = base_pb2.Filters(  # either modality
    operator=base_pb2.Filters.OPERATOR_CONTAINS_ANY,
    target=_MODALITY,
    value_text_array=base_pb2.TextArray(values=list(MODALITIES)),
)


def message(collection: str, request: SearchRequest) -> search_get_pb2.SearchRequest:
    """The protocol message of one SearchRequest (its limit, slack, filter and direction)."""
    vector = np.asarray(request.vector, dtype="<f4")
    if request.order == "farthest":
        vector = -vector
    near = base_search_pb2.NearVector(
        vectors=[base_pb2.Vectors(vector_bytes=vector.tobytes(), type=_SINGLE)],
        distance=request.max_distance,
    )
    return search_get_pb2.SearchRequest(
        collection=collection,
        limit=request.offset + request.limit + request.SLACK,
        filters=_FILTERS[request.target],
        near_vector=near,
        properties=_PROPERTIES,
        metadata=_METADATA,
        uses_123_api=True,
        uses_125_api=True,
        uses_127_api=True,
    )


def hits(reply: search_get_pb2.SearchReply, request: SearchRequest) -> list[Hit]:
    """The reply's results -> the request's page of hits; only the page's properties are read."""
    return [
        _hit(result, request.reported(result.metadata.distance))
        for result in request.ranked(reply.results, key=lambda r: (r.metadata.distance, r.metadata.id))
    ]


def _hit(result: search_get_pb2.SearchResult, distance: float) -> Hit:
    fields = result.properties.non_ref_props.fields
    speaker = fields["speaker"].text_value if "speaker" in fields else ""
    return Hit(
        id=result.metadata.id,
        modality=fields["modality"].text_value,  # type: ignore[arg-type]
        label=int(fields["label"].int_value),
        source=fields["source"].text_value,
        split=fields["split"].text_value,
        name=fields["name"].text_value,
        speaker=speaker or None,
        model_version=fields["model_version"].text_value,
        distance=distance,
    )


# After losing the server a channel waits before reconnecting, by default 1 s growing to 120 s,
# and fails every call meanwhile: a restarted Weaviate would answer other connections while
# searches on this one kept failing for up to two minutes. Retry within RECONNECT_MAX_MS instead.
RECONNECT_MAX_MS = 500
_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", RECONNECT_MAX_MS),
]


class GrpcSearch:
    """One grpc.aio channel to Weaviate, opened on the event loop that searches through it."""

    def __init__(self, address: ServerAddress, api_key: str | None, timeout_s: float) -> None:
        target = f"{address.host}:{address.grpc_port}"
        if address.secure:
            credentials = grpc.ssl_channel_credentials()
            self._channel = grpc.aio.secure_channel(target, credentials, options=_CHANNEL_OPTIONS)
        else:
            self._channel = grpc.aio.insecure_channel(target, options=_CHANNEL_OPTIONS)
        self._stub = weaviate_pb2_grpc.WeaviateStub(self._channel)
        self._auth = (("authorization", f"Bearer {api_key}"),) if api_key else None
        self._timeout_s = timeout_s

    async def search(self, collection: str, request: SearchRequest) -> list[Hit]:
        try:
            reply = await self._stub.Search(
                message(collection, request), metadata=self._auth, timeout=self._timeout_s
            )
        except grpc.aio.AioRpcError as exc:
            raise StoreUnavailable(f"search failed: {exc.code().name}: {exc.details()}") from exc
        return hits(reply, request)

    async def close(self, grace: float | None = None) -> None:
        """Close the channel; with `grace`, calls in flight get that many seconds to end."""
        await self._channel.close(grace)
