"""Reads for the embedding map: every object's vector and the few fields a map point shows.

Kept apart from `queries` (per-request reads): this one walks the whole collection, which
only the map does, once per index state.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from weaviate.collections import Collection
from weaviate.exceptions import WeaviateBaseError

from store.errors import StoreUnavailable

MAP_PROPERTIES = ["modality", "label", "model_version", "source"]


@dataclass(frozen=True)
class MapRow:
    id: str
    modality: str
    label: int
    model_version: str
    vector: list[float]
    source: str = ""


def object_count(collection: Collection) -> int:
    """Objects in the collection (one cheap aggregate call): half of the map's cache key."""
    try:
        return int(collection.aggregate.over_all(total_count=True).total_count or 0)
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"counting objects failed: {exc}") from exc


def iter_map_rows(collection: Collection, batch_size: int = 1000) -> Iterator[MapRow]:
    """Every object with its vector (cursor paging by id, so memory stays one batch)."""
    try:
        for obj in collection.iterator(
            include_vector=True, return_properties=MAP_PROPERTIES, cache_size=batch_size
        ):
            vec: Any = obj.vector["default"] if isinstance(obj.vector, dict) else obj.vector
            p = obj.properties
            yield MapRow(
                id=str(obj.uuid),
                modality=str(p["modality"]),
                label=int(p["label"]),  # type: ignore[arg-type]
                model_version=str(p["model_version"]),
                vector=[float(x) for x in vec],
                source=str(p.get("source") or ""),
            )
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"reading vectors for the map failed: {exc}") from exc
