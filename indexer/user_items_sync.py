"""Users' items after an indexing run: re-embedded for the current model, copied into the searched
collection, and copies without a record removed.

The records live in their own collection (store.user_items), which RECREATE never drops; this
step makes the searched collection agree with them. A record written by another checkpoint is
re-embedded from its stored media through the same path as the data sets (prepare, then the
encoders), so user items follow the model version exactly as the indexed ones do: the index
is current (store.index_problems) only once they have been re-embedded too.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import weaviate
from weaviate.classes.data import DataObject
from weaviate.collections import Collection
from weaviate.exceptions import WeaviateBaseError

import store
from store import user_items
from store.user_items import UserItem

if TYPE_CHECKING:
    from models.runtime import Encoders


@dataclass
class UserItemsSync:
    records: int = 0  # user items on record
    reembedded: int = 0  # of those, embedded again for the current model version
    copied: int = 0  # copies (re)written into the searched collection
    removed: int = 0  # copies without a record, deleted
    failures: list[tuple[str, str]] = field(default_factory=list)  # (id, reason)


def _embed(encoders: Encoders, item: UserItem, media: bytes) -> list[float]:
    from models.preprocess import prepare

    tensor = prepare(media, encoders.config).tensor
    return [float(x) for x in encoders.embed(item.modality, np.stack([tensor]))[0]]


def sync_user_items(
    client: weaviate.WeaviateClient, searched: Collection, settings: store.StoreSettings, encoders: Encoders
) -> UserItemsSync:
    """Make the searched collection's user items equal the records, at the current model version."""
    report = UserItemsSync()
    if not client.collections.exists(user_items.user_collection_name(settings)):
        copies = user_items.searched_user_ids(searched)
        _remove(searched, copies, report)
        return report
    records = user_items.ensure_user_collection(client, settings)
    version = encoders.model_version
    copies = user_items.searched_user_ids(searched)
    for item, media, vector in list(user_items.iter_records(records)):
        report.records += 1
        copies_version = copies.pop(item.id, None)
        try:
            if item.model_version != version:
                from models.media_errors import MediaError

                try:
                    vector = _embed(encoders, item, media)
                except MediaError as exc:  # accepted once by the service: only a new preprocessing refuses it
                    report.failures.append((item.id, f"{exc.code}: {exc.message}"))
                    continue
                item = replace(item, model_version=version)
                records.data.update(
                    uuid=uuid.UUID(item.id), properties={"model_version": version}, vector=vector
                )
                report.reembedded += 1
            if copies_version != version:
                _write_copy(searched, item, vector)
                if records.data.exists(uuid.UUID(item.id)):
                    report.copied += 1
                else:  # the user deleted it after it was read: DELETE removed its copy before we wrote it
                    searched.data.delete_by_id(uuid.UUID(item.id))
                    report.removed += 1
        except (WeaviateBaseError, store.StoreUnavailable) as exc:
            report.failures.append((item.id, str(exc)))
    _remove(searched, copies, report)  # what is left has no record: deleted by a user, crash in between
    return report


def _write_copy(searched: Collection, item: UserItem, vector: list[float]) -> None:
    result = searched.data.insert_many(
        [DataObject(uuid=uuid.UUID(item.id), properties=user_items.searched_properties(item), vector=vector)]
    )
    if result.errors:
        raise store.StoreUnavailable(f"copying user item {item.id} failed: {result.errors}")


def _remove(searched: Collection, orphans: dict[str, str], report: UserItemsSync) -> None:
    for orphan in orphans:
        searched.data.delete_by_id(uuid.UUID(orphan))
        report.removed += 1
