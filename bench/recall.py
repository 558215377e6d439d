"""Index accuracy: Weaviate's top-10 (through store.search, the service's query) against exact
cosine top-10 in numpy, for every validation item as a query, image -> audio and audio -> image.

The queries are the stored vectors themselves: the indexer embeds each item through the upload
path, so a stored vector is exactly what uploading that item would search with.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from weaviate.collections import Collection

import store
from models.modality import Modality

K = 10
TIE_EPS = 1e-5  # a hit at the exact 10th distance (a tie) counts as correct


def stored_vectors(collection: Collection) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(ids, modalities, unit vectors [N, D]) of every stored object."""
    ids, modalities, vectors = [], [], []
    for o in collection.iterator(include_vector=True, return_properties=["modality"], cache_size=2000):
        vec = o.vector["default"] if isinstance(o.vector, dict) else o.vector
        ids.append(str(o.uuid))
        modalities.append(o.properties["modality"])
        vectors.append(vec)
    v = np.asarray(vectors, dtype=np.float32)
    return ids, np.asarray(modalities), v / np.linalg.norm(v, axis=1, keepdims=True)


def exact_topk(queries: np.ndarray, base: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices into `base` of each query's k nearest by cosine distance, and the k-th distance."""
    dist = 1.0 - queries @ base.T
    idx = np.argpartition(dist, k - 1, axis=1)[:, :k]
    kth = np.take_along_axis(dist, idx, axis=1).max(axis=1)
    return idx, kth


def recall_at_k(
    found: list[list[str]], exact_ids: list[set[str]], found_dist: list[list[float]], kth: np.ndarray
) -> dict[str, float]:
    strict = [len(set(f) & e) / K for f, e in zip(found, exact_ids, strict=True)]
    tolerant = [
        sum(1 for i, d in zip(f, fd, strict=True) if i in e or d <= t + TIE_EPS) / K
        for f, fd, e, t in zip(found, found_dist, exact_ids, kth, strict=True)
    ]
    return {
        "recall_at_10": round(float(np.mean(tolerant)), 5),
        "recall_at_10_strict": round(float(np.mean(strict)), 5),
        "queries_below_1": int(sum(r < 1.0 for r in tolerant)),
    }


def run_recall(collection: Collection, max_queries: int | None = None) -> dict[str, Any]:
    ids, modalities, vectors = stored_vectors(collection)
    out: dict[str, Any] = {"k": K, "stored": len(ids)}
    directions: tuple[tuple[Modality, Modality], ...] = (("image", "audio"), ("audio", "image"))
    for source, target in directions:
        q_rows = np.flatnonzero(modalities == source)[:max_queries]
        b_rows = np.flatnonzero(modalities == target)
        idx, kth = exact_topk(vectors[q_rows], vectors[b_rows], K)
        exact_ids = [{ids[b_rows[j]] for j in row} for row in idx]
        found, found_dist = [], []
        for r in q_rows:
            hits = store.search(collection, vectors[r].tolist(), target, limit=K)
            found.append([h.id for h in hits])
            found_dist.append([h.distance for h in hits])
        out[f"{source}_to_{target}"] = {
            "queries": len(q_rows),
            **recall_at_k(found, exact_ids, found_dist, kth),
        }
    return out


def index_config(collection: Collection) -> dict[str, str]:
    """The vector index settings the numbers were measured with (ef, maxConnections, cutoff...)."""
    config = collection.config.get()
    vectors = config.vector_config or {}
    index = next(iter(vectors.values())).vector_index_config if vectors else config.vector_index_config
    return {k: str(v) for k, v in vars(index).items()} if index is not None else {}
