"""GET /items/{id}, its media, and "more like this"."""

import hashlib
import time
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Path, Response

from models.media_errors import MediaError
from models.preprocess import sniff
from service.api.deps import UserItemsDep, WeaviateDep
from service.api.schemas import ItemResponse, SimilarResponse, error_responses
from service.api.search_query import SearchParamsDep, openapi_parameters
from service.search import use_cases, user_items
from service.search.errors import ItemNotFound

router = APIRouter(prefix="/items", tags=["items"])

ItemId = Annotated[UUID, Path(description="the item's UUID, as returned in search results")]
# An id always names the same file (uuid5 of its source). With API_KEY set, service/middleware/security.py
# turns `public` into `private` on this and every other keyed answer.
CACHE_CONTROL = "public, max-age=86400"


@router.get("/{item_id}", response_model=ItemResponse, responses=error_responses(404, 422, 503))
async def get_item(item_id: ItemId, weaviate: WeaviateDep, items: UserItemsDep) -> ItemResponse:
    """Metadata of one indexed item, a user's own included (source "user", with label_source)."""
    return await user_items.get_item(weaviate, items, item_id)


@router.get(
    "/{item_id}/media",
    response_class=Response,
    responses={
        200: {
            "content": dict.fromkeys([*user_items.CONTENT_TYPES.values(), "application/octet-stream"], {}),
            "description": "The stored PNG or WAV; a user's item as uploaded, with its sniffed content type",
        },
        304: {"description": "Not modified (If-None-Match matched the ETag)"},
        **error_responses(404, 422, 503),
    },
)
async def get_media(
    item_id: ItemId,
    weaviate: WeaviateDep,
    items: UserItemsDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The item's PNG or WAV (a user's item: the bytes as uploaded), with an ETag so browsers
    revalidate instead of re-downloading."""
    data = await weaviate.get_media(item_id)
    media_type = None
    if data is None:  # a user's item: its media lives with its record
        stored = await items.media(item_id)
        if stored is None:
            raise ItemNotFound(item_id)
        data, media_type = stored
    etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if if_none_match is not None and etag in {t.strip().removeprefix("W/") for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    if media_type is None:
        try:
            _, fmt = sniff(data)
        except MediaError:
            fmt = ""
        media_type = user_items.CONTENT_TYPES.get(fmt, "application/octet-stream")
    return Response(data, media_type=media_type, headers=headers)


@router.get(
    "/{item_id}/similar",
    response_model=SimilarResponse,
    responses=error_responses(404, 422, 503),
    openapi_extra=openapi_parameters(),
)
async def similar(item_id: ItemId, params: SearchParamsDep, weaviate: WeaviateDep) -> SimilarResponse:
    """More like this: nearest items to an indexed one (itself excluded), without re-uploading it."""
    started = time.perf_counter()
    return await use_cases.search_similar(weaviate, item_id, params, started)
