"""The embedding map: a 2-D PCA of every indexed item, computed once per index state.

Why here and not in the indexer: the map is a pure function of the stored vectors, so the
service derives it from what Weaviate holds instead of keeping a second copy (a file or a
property) that could drift from the index. The key (IndexState: model version, object
count, newest write time) changes with every write that could move the map, and the first
/map request after that recomputes it (about a second for 10,300 items); later ones are
served from memory.

PCA is linear, so the same `mean` and `components` place any new query exactly where the
items around it are: x, y = components @ (v - mean).
"""

import hashlib
import json
import threading
import time
from dataclasses import dataclass

import numpy as np
from weaviate.classes.query import MetadataQuery, Sort
from weaviate.collections import Collection
from weaviate.exceptions import WeaviateBaseError

from service.search.errors import MapUnavailable
from store.errors import StoreUnavailable
from store.map_reads import iter_map_rows, object_count
from store.user_items import USER_SOURCE


@dataclass(frozen=True)
class Projection:
    mean: np.ndarray  # (D,)
    components: np.ndarray  # (2, D), orthonormal rows
    explained_variance_ratio: tuple[float, float]

    def place(self, vectors: np.ndarray) -> np.ndarray:
        """(N, D) or (D,) vectors -> (N, 2) or (2,) map coordinates."""
        return (np.asarray(vectors, dtype=np.float64) - self.mean) @ self.components.T


def fit_pca(vectors: np.ndarray) -> Projection:
    """The two principal axes of `vectors` (N, D), each signed so its largest loading is positive
    (SVD signs are arbitrary; this keeps the picture from flipping between recomputations)."""
    x = np.asarray(vectors, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError("PCA needs at least two vectors")
    mean = x.mean(axis=0)
    _, singular, vt = np.linalg.svd(x - mean, full_matrices=False)
    components = vt[:2].copy()
    if components.shape[0] < 2:  # D == 1: pad with a zero axis
        components = np.vstack([components, np.zeros_like(components)])
    for row in components:
        if row[np.argmax(np.abs(row))] < 0:
            row *= -1.0
    var = singular**2
    total = float(var.sum()) or 1.0
    ratios = [float(v) / total for v in var[:2]] + [0.0, 0.0]
    return Projection(mean, components, (ratios[0], ratios[1]))


@dataclass(frozen=True)
class IndexState:
    """What the map depends on, cheap to read. The count alone misses a replacement that
    keeps it (one object deleted, another written; a RECREATE of as many other items): any
    write moves the newest write time, and a deletion moves the count."""

    model_version: str
    count: int
    newest_write_ms: int  # the latest _lastUpdateTimeUnix of any object (0: none)


def read_index_state(collection: Collection, model_version: str) -> IndexState:
    """Two small calls: a count aggregate, and the one object written last (a sort on the
    object's own timestamp, which needs no timestamp index)."""
    count = object_count(collection)
    try:
        newest = collection.query.fetch_objects(
            limit=1,
            sort=Sort.by_update_time(ascending=False),
            return_properties=[],
            return_metadata=MetadataQuery(last_update_time=True),
        ).objects
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"reading the index state failed: {exc}") from exc
    written = newest[0].metadata.last_update_time if newest else None
    return IndexState(model_version, count, int(written.timestamp() * 1000) if written else 0)


@dataclass(frozen=True)
class EmbeddingMap:
    key: IndexState
    projection: Projection
    body: bytes  # the /map JSON, rendered once
    etag: str


def _round(values: np.ndarray, digits: int = 6) -> list[float]:
    return [round(float(v), digits) for v in values]


def build_map(collection: Collection, state: IndexState) -> EmbeddingMap:
    """Read every item of the state's model version, fit the PCA, render the response body."""
    model_version = state.model_version
    rows = [r for r in iter_map_rows(collection) if r.model_version == model_version]
    if len(rows) < 2:
        # nothing to draw yet; not a store failure (it must not trip the breaker)
        raise MapUnavailable(
            f"no map to draw yet: the index holds {len(rows)} items of model version {model_version}"
        )
    vectors = np.asarray([r.vector for r in rows], dtype=np.float64)
    projection = fit_pca(vectors)
    xy = projection.place(vectors)
    # sorted by id: a stable order whatever the iterator's
    order = sorted(range(len(rows)), key=lambda i: rows[i].id)
    points = [
        {
            "id": rows[i].id,
            "x": round(float(xy[i, 0]), 5),
            "y": round(float(xy[i, 1]), 5),
            "label": rows[i].label,
            "modality": rows[i].modality,
            # only users' items say so: 10,000 data-set points stay as small as they were
            **({"source": USER_SOURCE} if rows[i].source == USER_SOURCE else {}),
        }
        for i in order
    ]
    doc = {
        "model_version": model_version,
        "count": len(points),
        "method": "pca",
        "projection": {
            "mean": _round(projection.mean),
            "components": [_round(c) for c in projection.components],
            "explained_variance_ratio": [round(v, 6) for v in projection.explained_variance_ratio],
        },
        "bounds": {
            "x": [round(float(xy[:, 0].min()), 5), round(float(xy[:, 0].max()), 5)],
            "y": [round(float(xy[:, 1].min()), 5), round(float(xy[:, 1].max()), 5)],
        },
        "points": points,
    }
    body = json.dumps(doc, separators=(",", ":")).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return EmbeddingMap(state, projection, body, etag)


# Requests this close together share one state read: the newest-write sort scans the
# objects on the server (about 25 ms at 10,300 items), so a burst of /map/project calls must
# not each pay it. A write shows on the map at most this much later.
STATE_TTL_S = 1.0


class MapCache:
    """One map per index state; concurrent first requests compute it once."""

    def __init__(self, state_ttl_s: float = STATE_TTL_S) -> None:
        self._lock = threading.Lock()
        self._map: EmbeddingMap | None = None
        self._state_ttl_s = state_ttl_s
        self._confirmed_at = float("-inf")  # time.monotonic() of the read that confirmed _map

    def invalidate(self) -> None:
        """This worker wrote to the index (a user's item): the next request reads its state."""
        self._confirmed_at = float("-inf")

    def get(self, collection: Collection, model_version: str) -> EmbeddingMap:
        """Blocking (Weaviate reads, SVD): call from a worker thread."""
        current = self._map
        started = time.monotonic()
        if (
            current is not None
            and current.key.model_version == model_version
            and started - self._confirmed_at < self._state_ttl_s
        ):
            return current
        # read before the build: a write during it makes a later request rebuild
        key = read_index_state(collection, model_version)
        if current is None or current.key != key:
            with self._lock:
                if self._map is None or self._map.key != key:
                    self._map = build_map(collection, key)
                current = self._map
        self._confirmed_at = started
        return current
