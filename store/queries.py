"""Reads: nearest-vector search, item look-ups, counts. Each raises StoreUnavailable on trouble."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from weaviate.classes.aggregate import GroupByAggregate
from weaviate.classes.query import Filter, MetadataQuery
from weaviate.collections import Collection, CollectionAsync
from weaviate.exceptions import WeaviateBaseError

from models.modality import Modality
from store.errors import StoreUnavailable

# Everything but the blob: searches and item look-ups never ship the media bytes.
METADATA_PROPERTIES = ["modality", "label", "source", "split", "name", "speaker", "model_version"]
R = TypeVar("R")


@dataclass(frozen=True)
class Item:
    id: str
    modality: Modality
    label: int
    source: str
    split: str
    name: str
    speaker: str | None
    model_version: str


@dataclass(frozen=True)
class Hit(Item):
    distance: float


def _item(obj: Any) -> Item:
    p = obj.properties
    return Item(
        id=str(obj.uuid),
        modality=p["modality"],
        label=int(p["label"]),
        source=p["source"],
        split=p["split"],
        name=p["name"],
        speaker=p.get("speaker") or None,
        model_version=p["model_version"],
    )


@dataclass(frozen=True)
class SearchRequest:
    """One nearest-vector query, as the blocking client and store.grpc_search send it.

    Exact and stably paged at this index size: every query carries a modality filter (for
    "any" one that matches both), and Weaviate answers filtered queries matching fewer than
    its flatSearchCutoff (40,000) objects by brute force instead of the approximate HNSW walk,
    whose candidates would change with the requested limit. We fetch the first
    offset+limit (+ a few) results, order them by (distance, id) so that ties never swap
    between pages, and slice: page n is always the continuation of page n-1.

    Farthest: with cosine distance d(q, x) = 1 - cos(q, x), the items farthest from q are the
    nearest to -q (d(-q, x) = 2 - d(q, x)), so the same index answers; distances are reported
    from q. max_distance (an upper bound from q) does not combine with it.
    """

    vector: Sequence[float]
    target: Modality | None  # None: both modalities
    limit: int
    offset: int = 0
    max_distance: float | None = None
    order: Literal["nearest", "farthest"] = "nearest"

    SLACK = 8  # ties straddling the page end are ordered by id, not by arrival

    def __post_init__(self) -> None:
        if self.order == "farthest" and self.max_distance is not None:
            raise ValueError("max_distance applies to the nearest order only")

    def arguments(self) -> dict[str, Any]:
        """Keyword arguments of `collection.query.near_vector` (blocking and asyncio alike)."""
        farthest = self.order == "farthest"
        return {
            "near_vector": [-float(x) if farthest else float(x) for x in self.vector],
            "limit": self.offset + self.limit + self.SLACK,
            "distance": self.max_distance,
            "filters": (
                Filter.by_property("modality").equal(self.target)
                if self.target
                else Filter.by_property("modality").contains_any(["image", "audio"])
            ),
            "return_properties": METADATA_PROPERTIES,
            "return_metadata": MetadataQuery(distance=True),
        }

    def page(self, objects: Sequence[Any]) -> list[Hit]:
        """The answer's objects -> this request's page of hits, in (distance, id) order."""
        ranked = self.ranked(objects, key=lambda o: (float(o.metadata.distance or 0.0), str(o.uuid)))
        return [
            Hit(**vars(_item(o)), distance=self.reported(float(o.metadata.distance or 0.0))) for o in ranked
        ]

    def ranked(self, rows: Sequence[R], key: Callable[[R], tuple[float, str]]) -> list[R]:
        """The rows of this request's page, by key = (distance from the vector sent, id)."""
        return sorted(rows, key=key)[self.offset : self.offset + self.limit]

    def reported(self, distance: float) -> float:
        """The distance from the query (farthest: ascending from -q = descending from q)."""
        return 2.0 - distance if self.order == "farthest" else distance


def search(
    collection: Collection,
    vector: Sequence[float],
    target: Modality | None,
    limit: int,
    offset: int = 0,
    max_distance: float | None = None,
    order: Literal["nearest", "farthest"] = "nearest",
) -> list[Hit]:
    """Nearest (or, order="farthest", most dissimilar) neighbours of `vector`, optionally only of
    one modality, in a stable order (see SearchRequest)."""
    return search_with(collection, SearchRequest(vector, target, limit, offset, max_distance, order))


def search_with(collection: Collection, request: SearchRequest) -> list[Hit]:
    """Run a prepared SearchRequest through the blocking client."""
    try:
        res = collection.query.near_vector(**request.arguments())
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"search failed: {exc}") from exc
    return request.page(res.objects)


def _uuid(id: str | uuid.UUID) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(id))
    except ValueError:
        return None  # not a UUID: cannot be one of ours


def _fetch(collection: Collection, id: str | uuid.UUID, **kwargs: Any) -> Any:
    uid = _uuid(id)
    if uid is None:
        return None
    try:
        return collection.query.fetch_object_by_id(uid, **kwargs)
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"fetching {uid} failed: {exc}") from exc


def _vector(obj: Any) -> list[float]:
    vec = obj.vector["default"] if isinstance(obj.vector, dict) else obj.vector
    return [float(x) for x in vec]


def get_item(collection: Collection, id: str | uuid.UUID) -> Item | None:
    obj = _fetch(collection, id, return_properties=METADATA_PROPERTIES)
    return None if obj is None else _item(obj)


def get_media(collection: Collection, id: str | uuid.UUID) -> bytes | None:
    """The stored PNG / WAV bytes (the client hands blobs over base64-encoded)."""
    obj = _fetch(collection, id, return_properties=["media"])
    if obj is None or not obj.properties.get("media"):
        return None
    return base64.b64decode(obj.properties["media"])


def get_vector(collection: Collection, id: str | uuid.UUID) -> list[float] | None:
    obj = _fetch(collection, id, return_properties=[], include_vector=True)
    return None if obj is None else _vector(obj)


async def get_item_and_vector_async(
    collection: CollectionAsync, id: str | uuid.UUID
) -> tuple[Item, list[float]] | None:
    """An item's metadata and its vector in one round trip (asyncio client): "more like this"."""
    uid = _uuid(id)
    if uid is None:
        return None
    try:
        obj = await collection.query.fetch_object_by_id(
            uid, return_properties=METADATA_PROPERTIES, include_vector=True
        )
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"fetching {uid} failed: {exc}") from exc
    return None if obj is None else (_item(obj), _vector(obj))


def counts(collection: Collection, exclude_source: str | None = None) -> dict[str, dict[int, int]]:
    """Objects per modality and label, e.g. {"image": {0: 980, ...}, "audio": {...}}; without
    those of `exclude_source` when given (the indexer counts the data sets' own)."""
    out: dict[str, dict[int, int]] = {}
    try:
        for modality in ("image", "audio"):
            where = Filter.by_property("modality").equal(modality)
            if exclude_source is not None:
                where = where & Filter.by_property("source").not_equal(exclude_source)
            res = collection.aggregate.over_all(
                filters=where,
                group_by=GroupByAggregate(prop="label"),
                total_count=True,
            )
            per_label = {int(float(str(g.grouped_by.value))): int(g.total_count or 0) for g in res.groups}
            if per_label:
                out[modality] = dict(sorted(per_label.items()))
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"counting objects failed: {exc}") from exc
    return out


def model_versions(collection: Collection) -> dict[str, int]:
    """How many objects each checkpoint version wrote; one key means a consistent index."""
    try:
        res = collection.aggregate.over_all(group_by=GroupByAggregate(prop="model_version"), total_count=True)
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"reading model versions failed: {exc}") from exc
    return {str(g.grouped_by.value): int(g.total_count or 0) for g in res.groups}


def index_problems(client: Any, collection: str, model_version: str) -> list[str]:
    """Why the index cannot serve `model_version`; [] when it is current.

    The one rule used by `make run` (index or not), readiness and the indexer's end check:
    the collection exists, holds items of this model version, and none of another one
    (vectors of two checkpoints live in different spaces and must never be ranked together).
    """
    if not client.collections.exists(collection):
        return [f"collection {collection!r} does not exist: run the indexer (make index)"]
    versions = model_versions(client.collections.get(collection))
    problems = []
    if versions.get(model_version, 0) == 0:
        found = ", ".join(f"{v} ({n})" for v, n in versions.items()) or "empty"
        problems.append(
            f"collection {collection!r} holds no items of model version {model_version} ({found})"
        )
    others = {v: n for v, n in versions.items() if v != model_version}
    if others:
        problems.append(f"collection {collection!r} still holds items of other model versions {others}")
    return problems
