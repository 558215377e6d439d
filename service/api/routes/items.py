"""GET /items/{id}, its media, and "more like this"."""

import hashlib
import time
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, Path, Response

from models.media_errors import MediaError
from models.preprocess import sniff
from service.api.deps import WeaviateDep
from service.api.routes.search import SearchParamsDep
from service.api.schemas import ItemResponse, SimilarResponse, error_responses
from service.search import use_cases
from service.search.errors import ItemNotFound

router = APIRouter(prefix="/items", tags=["items"])

ItemId = Annotated[UUID, Path(description="the item's UUID, as returned in search results")]
_MIME = {"png": "image/png", "wav": "audio/wav"}
# An id always names the same file (uuid5 of its source). With API_KEY set, service/middleware/security.py
# turns `public` into `private` on this and every other keyed answer.
CACHE_CONTROL = "public, max-age=86400"


@router.get("/{item_id}", response_model=ItemResponse, responses=error_responses(404, 422, 503))
async def get_item(item_id: ItemId, weaviate: WeaviateDep) -> ItemResponse:
    """Metadata of one indexed item."""
    item = await weaviate.get_item(item_id)
    if item is None:
        raise ItemNotFound(item_id)
    return ItemResponse.model_validate(item)


@router.get(
    "/{item_id}/media",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}, "audio/wav": {}}, "description": "The stored PNG or WAV"},
        304: {"description": "Not modified (If-None-Match matched the ETag)"},
        **error_responses(404, 422, 503),
    },
)
async def get_media(
    item_id: ItemId,
    weaviate: WeaviateDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """The item's PNG or WAV, with an ETag so browsers revalidate instead of re-downloading."""
    data = await weaviate.get_media(item_id)
    if data is None:
        raise ItemNotFound(item_id)
    etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if if_none_match is not None and etag in {t.strip().removeprefix("W/") for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    try:
        _, fmt = sniff(data)
    except MediaError:
        fmt = ""
    return Response(data, media_type=_MIME.get(fmt, "application/octet-stream"), headers=headers)


@router.get(
    "/{item_id}/similar",
    response_model=SimilarResponse,
    responses=error_responses(404, 422, 503),
)
async def similar(item_id: ItemId, params: SearchParamsDep, weaviate: WeaviateDep) -> SimilarResponse:
    """More like this: nearest items to an indexed one (itself excluded), without re-uploading it."""
    started = time.perf_counter()
    return await use_cases.search_similar(weaviate, item_id, params, started)
