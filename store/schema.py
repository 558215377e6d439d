"""The collection: its schema, and the deterministic object ids."""

from __future__ import annotations

import time
import uuid
from typing import Any

import weaviate
from weaviate.classes.config import Configure, DataType, Property, Tokenization, VectorDistances
from weaviate.collections import Collection
from weaviate.exceptions import UnexpectedStatusCodeError, WeaviateBaseError

from store.errors import StoreUnavailable
from store.settings import StoreSettings

# Namespace for object UUIDs: uuid5(NAMESPACE, "source/split/name"). Never change it, or
# re-indexing would duplicate every object instead of updating it in place.
NAMESPACE = uuid.UUID("6f1d4c1e-3b1a-5d2e-9c61-0d1b2d7e8a40")


def ensure_collection(client: weaviate.WeaviateClient, settings: StoreSettings) -> Collection:
    """The collection, created per DESIGN.md if it does not exist yet."""
    name = settings.collection
    try:
        if not client.collections.exists(name):
            create_collection(client, settings)
            wait_for_replicas(client, name, settings.shards * settings.replication_factor)
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"{settings.describe()}: {exc}") from exc
    return client.collections.get(name)


def text_property(name: str, filterable: bool = False) -> Property:
    """A text property matched whole (FIELD tokenization: "image" / "7_jackson_3.wav" are never
    split into words), not keyword-searchable."""
    return Property(
        name=name,
        data_type=DataType.TEXT,
        tokenization=Tokenization.FIELD,
        index_filterable=filterable,
        index_searchable=False,
    )


def exact_cosine_vectors() -> Any:
    """Our own vectors, cosine HNSW, never quantized: 10k x 128 floats are small, and servers
    that quantize by default (DEFAULT_QUANTIZATION, e.g. managed instances) would blur
    near-duplicates."""
    return Configure.Vectors.self_provided(
        vector_index_config=Configure.VectorIndex.hnsw(
            distance_metric=VectorDistances.COSINE, quantizer=Configure.VectorIndex.Quantizer.none()
        ),
    )


def create_collection(client: weaviate.WeaviateClient, settings: StoreSettings) -> None:
    text = text_property
    client.collections.create(
        settings.collection,
        description="DigitBridge: MNIST images and FSDD recordings in one embedding space",
        vector_config=exact_cosine_vectors(),
        properties=[
            text("modality", filterable=True),
            Property(name="label", data_type=DataType.INT, index_filterable=True),
            text("source", filterable=True),
            text("split"),
            text("name"),
            text("speaker"),
            Property(name="media", data_type=DataType.BLOB, index_filterable=False),
            text("model_version", filterable=True),
        ],
        sharding_config=Configure.sharding(desired_count=settings.shards),
        replication_config=Configure.replication(factor=settings.replication_factor),
    )


def wait_for_replicas(
    client: weaviate.WeaviateClient, name: str, replicas: int, timeout_s: float = 30.0
) -> None:
    """Until the cluster's nodes hold `replicas` shard replicas of a new collection.

    A cluster node answers from its own copy of the schema (COLLECTION_RETRIEVAL_STRATEGY=
    LocalOnly in docker-compose.cluster.yml), which follows the Raft leader's a moment later:
    the first write must not reach a node that does not know the collection yet.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            nodes = client.cluster.nodes(name, output="verbose")
            held = sum(len(n.shards or []) for n in nodes)
        except UnexpectedStatusCodeError as exc:
            if exc.status_code != 404:  # 404: this node's schema does not hold the collection yet
                raise
            held = 0
        if held >= replicas:
            return
        if time.monotonic() > deadline:
            raise StoreUnavailable(f"{name}: {held} of {replicas} shard replicas after {timeout_s:.0f} s")
        time.sleep(0.1)


def object_uuid(source: str, split: str, name: str) -> uuid.UUID:
    """Deterministic id: re-indexing the same item updates it in place."""
    return uuid.uuid5(NAMESPACE, f"{source}/{split}/{name}")
