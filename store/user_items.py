"""Items users add themselves: kept in a collection of their own, mirrored into the searched one.

Why two collections: the user's collection (`<COLLECTION>_UserItems`) is the record of what
a user added (the bytes as uploaded, their content type, the label and where it came from,
the vector and its model version); nothing but a user's DELETE removes anything from it. The
searched collection (`COLLECTION`) holds a copy (metadata and vector, source "user", no
media), so searches, "more like this" and the map need no second query. The indexer's
RECREATE drops only the searched collection; its sync (indexer.user_items_sync) puts the
copies back, re-embedded from the stored media when the model version changed.

Writes go to the user's collection first and leave it last, so a crash between the two
writes leaves at worst a copy the sync removes, or a record the sync (or a retried POST,
which is idempotent) copies again: never a searchable item without its record.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import weaviate
from weaviate.classes.config import Configure, DataType, Property
from weaviate.classes.query import Filter, Sort
from weaviate.collections import Collection
from weaviate.exceptions import WeaviateBaseError

from models.modality import Modality
from store.errors import StoreUnavailable
from store.schema import NAMESPACE, exact_cosine_vectors, text_property, wait_for_replicas
from store.settings import StoreSettings

USER_SOURCE = "user"  # the `source` of a user's item in the searched collection
USER_SPLIT = "user"
LabelSource = Literal["given", "predicted"]
RECORD_PROPERTIES = [
    "modality",
    "label",
    "label_source",
    "content_type",
    "name",
    "sha256",
    "model_version",
    "created_ms",
]


@dataclass(frozen=True)
class UserItem:
    id: str
    modality: Modality
    label: int
    label_source: LabelSource
    content_type: str
    name: str
    sha256: str
    model_version: str
    created_ms: int
    source: str = USER_SOURCE


def user_collection_name(settings: StoreSettings) -> str:
    return f"{settings.collection}_UserItems"


def user_item_uuid(sha256_hex: str, label: int) -> uuid.UUID:
    """Same bytes and label, same id: adding them again finds the item instead of a twin."""
    return uuid.uuid5(NAMESPACE, f"user/{sha256_hex}/{label}")


def ensure_user_collection(client: weaviate.WeaviateClient, settings: StoreSettings) -> Collection:
    name = user_collection_name(settings)
    try:
        if not client.collections.exists(name):
            _create(client, settings, name)
            wait_for_replicas(client, name, settings.shards * settings.replication_factor)
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"{settings.describe()}: {exc}") from exc
    return client.collections.get(name)


def _create(client: weaviate.WeaviateClient, settings: StoreSettings, name: str) -> None:
    text = text_property
    client.collections.create(
        name,
        description="DigitBridge: the items users added (the record; the searched collection holds copies)",
        vector_config=exact_cosine_vectors(),
        properties=[
            text("modality"),
            Property(name="label", data_type=DataType.INT),
            text("label_source"),
            text("content_type"),
            text("name"),
            text("sha256"),
            text("model_version", filterable=True),
            Property(name="created_ms", data_type=DataType.INT, index_filterable=True),
            Property(name="media", data_type=DataType.BLOB, index_filterable=False),
        ],
        sharding_config=Configure.sharding(desired_count=settings.shards),
        replication_config=Configure.replication(factor=settings.replication_factor),
    )


def _record(obj: Any) -> UserItem:
    p = obj.properties
    return UserItem(
        id=str(obj.uuid),
        modality=p["modality"],
        label=int(p["label"]),
        label_source=p["label_source"],
        content_type=p["content_type"],
        name=p["name"],
        sha256=p["sha256"],
        model_version=p["model_version"],
        created_ms=int(p["created_ms"]),
    )


def searched_properties(item: UserItem) -> dict[str, Any]:
    """The copy in the searched collection: what a search result and GET /items show."""
    return {
        "modality": item.modality,
        "label": item.label,
        "source": USER_SOURCE,
        "split": USER_SPLIT,
        "name": item.name,
        "speaker": None,
        "model_version": item.model_version,
    }


def get_user_item(records: Collection, item_id: uuid.UUID) -> UserItem | None:
    try:
        obj = records.query.fetch_object_by_id(item_id, return_properties=RECORD_PROPERTIES)
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"fetching user item {item_id} failed: {exc}") from exc
    return None if obj is None else _record(obj)


def get_user_media(records: Collection, item_id: uuid.UUID) -> tuple[bytes, str] | None:
    """The bytes as uploaded and their sniffed content type."""
    try:
        obj = records.query.fetch_object_by_id(item_id, return_properties=["media", "content_type"])
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"fetching the media of user item {item_id} failed: {exc}") from exc
    if obj is None or not obj.properties.get("media"):
        return None
    return base64.b64decode(str(obj.properties["media"])), str(obj.properties["content_type"])


def count_user_items(records: Collection) -> int:
    try:
        return int(records.aggregate.over_all(total_count=True).total_count or 0)
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"counting user items failed: {exc}") from exc


def list_user_items(records: Collection, limit: int, offset: int) -> list[UserItem]:
    """Newest first (ties by id): offset paging over a stable order."""
    try:
        res = records.query.fetch_objects(
            limit=limit,
            offset=offset,
            sort=Sort.by_property("created_ms", ascending=False).by_id(ascending=True),
            return_properties=RECORD_PROPERTIES,
        )
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"listing user items failed: {exc}") from exc
    return [_record(o) for o in res.objects]


def put_user_item(
    records: Collection, searched: Collection, item: UserItem, media: bytes, vector: Sequence[float]
) -> None:
    """The record first, then its searchable copy (see the module doc for why this order)."""
    properties = {
        "modality": item.modality,
        "label": item.label,
        "label_source": item.label_source,
        "content_type": item.content_type,
        "name": item.name,
        "sha256": item.sha256,
        "model_version": item.model_version,
        "created_ms": item.created_ms,
        "media": base64.b64encode(media).decode("ascii"),
    }
    uid = uuid.UUID(item.id)
    try:
        records.data.insert(properties, uuid=uid, vector=list(vector))
        searched.data.insert(searched_properties(item), uuid=uid, vector=list(vector))
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"storing user item {item.id} failed: {exc}") from exc


def ensure_copy(searched: Collection, item: UserItem, vector: Sequence[float]) -> None:
    """Write the item's searchable copy when the searched collection lacks it."""
    uid = uuid.UUID(item.id)
    try:
        if searched.query.fetch_object_by_id(uid, return_properties=[]) is None:
            searched.data.insert(searched_properties(item), uuid=uid, vector=list(vector))
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"restoring the copy of user item {item.id} failed: {exc}") from exc


def delete_user_item(records: Collection, searched: Collection, item_id: uuid.UUID) -> None:
    """The record first, then the copy: a crash in between leaves a copy the sync removes."""
    try:
        records.data.delete_by_id(item_id)
        searched.data.delete_by_id(item_id)
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"deleting user item {item_id} failed: {exc}") from exc


def is_searchable(searched: Collection, item_id: uuid.UUID, vector: Sequence[float]) -> bool:
    """Does the vector index hold the item (a search filtered to its id finds it)? With
    ASYNC_INDEXING a new vector waits in a queue before any search can return it."""
    res = searched.query.near_vector(
        near_vector=list(vector), limit=1, filters=Filter.by_id().equal(item_id), return_properties=[]
    )
    return any(o.uuid == item_id for o in res.objects)


def wait_searchable(
    searched: Collection, item_id: uuid.UUID, vector: Sequence[float], timeout_s: float
) -> None:
    """Until a search can return the item (read-your-writes); StoreUnavailable past timeout_s."""
    deadline = time.monotonic() + timeout_s
    delay = 0.01
    try:
        while not is_searchable(searched, item_id, vector):
            if time.monotonic() > deadline:
                raise StoreUnavailable(f"user item {item_id} was stored but is not searchable yet")
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"checking user item {item_id} failed: {exc}") from exc


def iter_records(records: Collection) -> Iterator[tuple[UserItem, bytes, list[float]]]:
    """Every record with its media and vector (cursor paging: memory stays one page)."""
    try:
        for obj in records.iterator(
            include_vector=True, return_properties=[*RECORD_PROPERTIES, "media"], cache_size=100
        ):
            vector: Any = obj.vector["default"] if isinstance(obj.vector, dict) else obj.vector
            media = base64.b64decode(str(obj.properties["media"]))
            yield _record(obj), media, [float(x) for x in vector]
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"reading user items failed: {exc}") from exc


def searched_user_ids(searched: Collection) -> dict[str, str]:
    """id -> model_version of every user item's copy in the searched collection."""
    try:
        return {
            str(o.uuid): str(o.properties["model_version"])
            for o in searched.iterator(return_properties=["source", "model_version"], cache_size=1000)
            if o.properties.get("source") == USER_SOURCE
        }
    except WeaviateBaseError as exc:
        raise StoreUnavailable(f"reading user item copies failed: {exc}") from exc


def now_ms() -> int:
    return int(time.time() * 1000)
