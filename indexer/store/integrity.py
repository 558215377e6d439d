"""Does the vector index hold every object? Find out exactly, and repair what is missing.

Weaviate keeps objects (LSM store) and the vector index (HNSW and its commit log) apart. A
server killed at the wrong moment can come back with objects whose vectors are not in the
index: they can be fetched and counted but no search returns them (docs/ARCHITECTURE.md,
"Crash safety"). Counts cannot see that; a search can.

The test is exact: a near-vector search whose filter allows only a chunk of object ids is
answered by brute force over those ids, and returns exactly the ones the vector index holds.
The repair deletes and re-inserts each missing object: a re-put of identical data is a no-op
in Weaviate, so it would never reach the index.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import weaviate
from weaviate.classes.data import DataObject
from weaviate.classes.query import Filter
from weaviate.collections import Collection
from weaviate.exceptions import WeaviateBaseError

from indexer.store.errors import StoreUnavailable

CHUNK = 1000  # ids per membership query (Weaviate returns at most QUERY_MAXIMUM_RESULTS = 10,000)


@dataclass
class VectorIndexCheck:
    """What `ensure_vector_index` found and did."""

    objects: int = 0  # objects in the collection
    missing: list[str] = field(default_factory=list)  # ids the vector index did not hold
    repaired: list[str] = field(default_factory=list)  # of those, re-inserted and now findable
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Every object is in the vector index now."""
        return set(self.missing) <= set(self.repaired)

    def problems(self) -> list[str]:
        lost = sorted(set(self.missing) - set(self.repaired))
        if not lost:
            return []
        return [f"{len(lost)} of {self.objects} objects are not in the vector index: {lost[:5]}"]


def wait_indexed(client: weaviate.WeaviateClient, collection: str, timeout_s: float = 120.0) -> None:
    """Until every vector queued for indexing (ASYNC_INDEXING) is in the index of every shard."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            shards = [s for n in client.cluster.nodes(collection, output="verbose") for s in n.shards or []]
        except WeaviateBaseError as exc:
            raise StoreUnavailable(f"reading the indexing state of {collection} failed: {exc}") from exc
        waiting = sum(s.vector_queue_length for s in shards)
        if waiting == 0 and all(s.vector_indexing_status == "READY" for s in shards):
            return
        if time.monotonic() > deadline:
            raise StoreUnavailable(
                f"{collection}: {waiting} vectors still queued for indexing after {timeout_s:.0f} s"
            )
        time.sleep(0.2)


def _ids(collection: Collection) -> Iterator[uuid.UUID]:
    for obj in collection.iterator(return_properties=[], cache_size=CHUNK):
        yield obj.uuid


def _chunks(ids: Iterator[uuid.UUID]) -> Iterator[list[uuid.UUID]]:
    chunk: list[uuid.UUID] = []
    for uid in ids:
        chunk.append(uid)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _vector(obj: Any) -> list[float]:
    vector = obj.vector["default"] if isinstance(obj.vector, dict) else obj.vector
    return [float(x) for x in vector]


def _indexed(collection: Collection, ids: Sequence[uuid.UUID]) -> set[str]:
    """Which of `ids` the vector index holds (any query vector will do: the filter decides)."""
    probe = collection.query.fetch_object_by_id(ids[0], return_properties=[], include_vector=True)
    if probe is None:  # deleted since we listed it: try the rest without it
        return _indexed(collection, ids[1:]) if len(ids) > 1 else set()
    res = collection.query.near_vector(
        near_vector=_vector(probe),
        limit=len(ids),
        filters=Filter.by_id().contains_any(list(ids)),
        return_properties=[],
    )
    return {str(o.uuid) for o in res.objects}


def unindexed_ids(collection: Collection) -> tuple[int, list[str]]:
    """(objects in the collection, ids of those missing from the vector index)."""
    total, missing = 0, []
    try:
        for chunk in _chunks(_ids(collection)):
            total += len(chunk)
            found = _indexed(collection, chunk)
            missing += [str(u) for u in chunk if str(u) not in found]
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"checking the vector index failed: {exc}") from exc
    return total, missing


def _reinsert(collection: Collection, ids: Sequence[str]) -> None:
    objects: list[DataObject[Any, None]] = []
    for uid in ids:
        stored = collection.query.fetch_object_by_id(uid, include_vector=True)
        if stored is not None:  # else deleted meanwhile: nothing to repair
            objects.append(DataObject(uuid=stored.uuid, properties=stored.properties, vector=_vector(stored)))
    for uid in ids:
        collection.data.delete_by_id(uid)
    if objects:
        result = collection.data.insert_many(objects)
        if result.errors:
            raise StoreUnavailable(f"re-inserting {len(result.errors)} objects failed: {result.errors}")


def ensure_vector_index(client: weaviate.WeaviateClient, collection: str) -> VectorIndexCheck:
    """Verify that the vector index holds every object of `collection`; re-insert those it lacks.

    Waits for queued vectors first (ASYNC_INDEXING). Exact, and about one query per 1,000
    objects. Raises StoreUnavailable when Weaviate cannot answer.
    """
    start = time.perf_counter()
    check = VectorIndexCheck()
    if not client.collections.exists(collection):
        return check
    col = client.collections.get(collection)
    wait_indexed(client, collection)
    check.objects, check.missing = unindexed_ids(col)
    if check.missing:
        try:
            _reinsert(col, check.missing)
        except WeaviateBaseError as exc:
            raise StoreUnavailable(f"repairing the vector index failed: {exc}") from exc
        wait_indexed(client, collection)
        still = set(unindexed_ids(col)[1])
        check.repaired = [uid for uid in check.missing if uid not in still]
    check.seconds = time.perf_counter() - start
    return check
