"""Does the vector index hold every object? Find out exactly, and repair what is missing.

Weaviate keeps objects (LSM store) and the vector index (HNSW and its commit log) apart. A
server killed at the wrong moment can come back with objects whose vectors are not in the
index: they can be fetched and counted but no search returns them (docs/ARCHITECTURE.md,
"Crash safety"). Counts cannot see that; a search can.

The test is exact: a near-vector search whose filter allows only a chunk of object ids is
answered by brute force over those ids, and returns exactly the ones the vector index holds.
The repair (store.repair) re-indexes what is missing without ever deleting, under a
lock that every repairer takes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import weaviate
from weaviate.classes.query import Filter
from weaviate.collections import Collection
from weaviate.exceptions import WeaviateBaseError

from store.errors import StoreUnavailable
from store.repair import (
    CHUNK,
    LOCK_WAIT_S,
    RepairBusy,
    chunks,
    reindex,
    repair_lock,
    replay,
    vector_of,
)
from store.settings import StoreSettings

__all__ = ["RepairBusy", "VectorIndexCheck", "ensure_vector_index", "repair_lock", "wait_indexed"]


@dataclass
class VectorIndexCheck:
    """What `ensure_vector_index` found and did."""

    objects: int = 0  # objects in the collection
    missing: list[str] = field(default_factory=list)  # ids the vector index did not hold
    repaired: list[str] = field(default_factory=list)  # of those, re-indexed and now findable
    restored: int = 0  # exact vectors put back from the journal of a repair that was killed
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


def indexing_state(client: weaviate.WeaviateClient, collection: str) -> tuple[int, int, bool]:
    """(objects, vectors queued for indexing, every shard READY), summed over shards: one request."""
    try:
        shards = [s for n in client.cluster.nodes(collection, output="verbose") for s in n.shards or []]
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"reading the indexing state of {collection} failed: {exc}") from exc
    objects = sum(s.object_count for s in shards)
    queued = sum(s.vector_queue_length for s in shards)
    return objects, queued, all(s.vector_indexing_status == "READY" for s in shards)


def wait_indexed(client: weaviate.WeaviateClient, collection: str, timeout_s: float = 120.0) -> None:
    """Until every vector queued for indexing (ASYNC_INDEXING) is in the index of every shard."""
    deadline = time.monotonic() + timeout_s
    while True:
        _, waiting, ready = indexing_state(client, collection)
        if waiting == 0 and ready:
            return
        if time.monotonic() > deadline:
            raise StoreUnavailable(
                f"{collection}: {waiting} vectors still queued for indexing after {timeout_s:.0f} s"
            )
        time.sleep(0.2)


# ---------------------------------------------------------------- the check


def _indexed(collection: Collection, ids: Sequence[uuid.UUID | str]) -> set[str]:
    """Which of `ids` the vector index holds (any query vector will do: the filter decides)."""
    probe = collection.query.fetch_object_by_id(ids[0], return_properties=[], include_vector=True)
    if probe is None:  # deleted since we listed it: try the rest without it
        return _indexed(collection, ids[1:]) if len(ids) > 1 else set()
    res = collection.query.near_vector(
        near_vector=vector_of(probe),
        limit=len(ids),
        filters=Filter.by_id().contains_any(list(ids)),
        return_properties=[],
    )
    return {str(o.uuid) for o in res.objects}


def unindexed_ids(collection: Collection) -> tuple[int, list[str]]:
    """(objects in the collection, ids of those missing from the vector index). Reads only."""
    total, missing = 0, []
    try:
        ids = (o.uuid for o in collection.iterator(return_properties=[], cache_size=CHUNK))
        for chunk in chunks(ids):
            total += len(chunk)
            found = _indexed(collection, chunk)
            missing += [str(u) for u in chunk if str(u) not in found]
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"checking the vector index failed: {exc}") from exc
    return total, missing


def vector_index_shortfall(client: weaviate.WeaviateClient, collection: str) -> tuple[int, list[str]]:
    """(objects, ids the vector index lacks): reads only, takes no lock. An id counts only when
    a second look, after the indexing queue has drained, still misses it (a write that landed
    during the scan may merely be queued)."""
    col = client.collections.get(collection)
    objects, missing = unindexed_ids(col)
    if missing:
        wait_indexed(client, collection, timeout_s=10.0)
        try:
            found = {uid for chunk in chunks(iter(missing)) for uid in _indexed(col, chunk)}
        except WeaviateBaseError as exc:
            raise StoreUnavailable(f"checking the vector index failed: {exc}") from exc
        missing = [uid for uid in missing if uid not in found]
    return objects, missing


def ensure_vector_index(
    client: weaviate.WeaviateClient, collection: str, settings: StoreSettings, *, wait_s: float = LOCK_WAIT_S
) -> VectorIndexCheck:
    """Verify that the vector index holds every object of `collection`; re-index those it lacks.

    Holds `repair_lock` throughout (waits up to wait_s for another repairer; RepairBusy
    after that) and first finishes any repair that was killed. Waits for queued vectors
    (ASYNC_INDEXING). Exact, and about one query per 1,000 objects. Raises StoreUnavailable
    when Weaviate cannot answer.
    """
    start = time.perf_counter()
    check = VectorIndexCheck()
    with repair_lock(settings, collection, wait_s) as journal:
        try:
            if not client.collections.exists(collection):
                journal.unlink(missing_ok=True)  # its objects went with the collection
                return check
            col = client.collections.get(collection)
            check.restored = replay(col, journal)
            wait_indexed(client, collection)
            check.objects, check.missing = unindexed_ids(col)
            if check.missing:
                reindex(col, check.missing, journal)
                wait_indexed(client, collection)
                still = set(unindexed_ids(col)[1])
                check.repaired = [uid for uid in check.missing if uid not in still]
        except WeaviateBaseError as exc:
            raise StoreUnavailable(f"repairing the vector index of {collection} failed: {exc}") from exc
    check.seconds = time.perf_counter() - start
    return check
