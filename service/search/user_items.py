"""A user's own items: add one (embedded exactly as a search's upload), read, list, delete.

The upload goes through the query encoder (its preprocessing lanes, CPU budget, batched
forward passes and media errors) like /search; the label is the one sent, else the model's
prototype class. The id is uuid5 of the bytes' sha256 and the label, so adding the same bytes
with the same label again finds the stored item. Storage: service/search/user_item_store.py.
"""

import hashlib
import uuid
from typing import Any

from service.api.schemas import ItemResponse, UserItemPage, UserItemResponse
from service.search.errors import ItemNotFound, NotUserItem, ReadOnly
from service.search.query_encoder import QueryEncoder
from service.search.store_gateway import StoreGateway
from service.search.user_item_store import UserItemStore
from store.user_items import USER_SOURCE, USER_SPLIT, UserItem, now_ms, user_item_uuid

# sniffed format -> the content type /media serves the bytes with; the formats main's
# models.media_types adds (HEIF, AVIF, FLAC, Ogg, WebM, MP3, MP4 audio) are listed already
CONTENT_TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "tiff": "image/tiff",
    "bmp": "image/bmp",
    "heif": "image/heif",
    "avif": "image/avif",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "webm": "audio/webm",
    "mp3": "audio/mpeg",
    "mp4": "audio/mp4",
}
MAX_NAME_CHARS = 200


def content_type(modality: str, fmt: str) -> str:
    """The MIME type of a sniffed format (a format added later still gets a sensible one)."""
    return CONTENT_TYPES.get(fmt, f"{modality}/{fmt}")


def display_name(filename: str | None, fmt: str, sha256: str) -> str:
    """What lists and results call the item: the upload's file name, else its hash."""
    name = (filename or "").strip().replace("\\", "/").rsplit("/", 1)[-1]
    return name[:MAX_NAME_CHARS] or f"{sha256[:12]}.{fmt}"


def refuse_if_read_only(read_only: bool) -> None:
    if read_only:
        raise ReadOnly("the index is read-only (READ_ONLY): items cannot be added or deleted")


def _described(item: UserItem) -> dict[str, Any]:
    """What every answer about a user's item says of it (its record's fields)."""
    return {
        "id": uuid.UUID(item.id),
        "modality": item.modality,
        "label": item.label,
        "source": USER_SOURCE,
        "name": item.name,
        "speaker": None,
        "label_source": item.label_source,
        "model_version": item.model_version,
    }


def response(item: UserItem) -> UserItemResponse:
    return UserItemResponse(**_described(item), content_type=item.content_type, created_ms=item.created_ms)


async def add_item(
    encoder: QueryEncoder,
    items: UserItemStore,
    data: bytes,
    label: int | None,
    filename: str | None,
) -> tuple[UserItemResponse, bool]:
    """(the item, True when it was added now; False when it was stored already)."""
    encoded = await encoder.encode(data)
    predicted = int(encoded.probs.argmax())
    final_label = predicted if label is None else label
    sha256 = hashlib.sha256(data).hexdigest()
    item = UserItem(
        id=str(user_item_uuid(sha256, final_label)),
        modality=encoded.modality,
        label=final_label,
        label_source="predicted" if label is None else "given",
        content_type=content_type(encoded.modality, encoded.format),
        name=display_name(filename, encoded.format, sha256),
        sha256=sha256,
        model_version=encoder.encoders.model_version,
        created_ms=now_ms(),
    )
    stored, created = await items.add(item, data, encoded.embedding.tolist())
    return response(stored), created


async def get_item(weaviate: StoreGateway, items: UserItemStore, item_id: uuid.UUID) -> ItemResponse:
    """Any item's metadata; a user's item from its record (which also outlives a re-index)."""
    found = await weaviate.get_item(item_id)
    if found is not None and found.source != USER_SOURCE:
        return ItemResponse.model_validate(found)
    record = await items.get(item_id)
    if record is None:
        raise ItemNotFound(item_id)
    return ItemResponse(**_described(record), split=USER_SPLIT)


async def list_items(items: UserItemStore, limit: int, offset: int) -> UserItemPage:
    page, total = await items.page(limit, offset)
    return UserItemPage(items=[response(i) for i in page], total=total, limit=limit, offset=offset)


async def delete_item(weaviate: StoreGateway, items: UserItemStore, item_id: uuid.UUID) -> None:
    found = await weaviate.get_item(item_id)
    if found is not None and found.source != USER_SOURCE:
        raise NotUserItem(
            f"item {item_id} belongs to the indexed data set {found.source!r}; only items added "
            "with POST /items can be deleted"
        )
    if not await items.delete(item_id):
        raise ItemNotFound(item_id)
