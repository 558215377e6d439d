"""POST /items (add your own), GET /items?source=user (list them), DELETE /items/{id}."""

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request, Response

from service.api.deps import QueryEncoderDep, ResourcesDep, SettingsDep, UserItemsDep, WeaviateDep
from service.api.errors import ApiError
from service.api.schemas import UPLOAD_FORMATS, ErrorResponse, UserItemPage, UserItemResponse, error_responses
from service.api.uploads import Upload, read_uploads
from service.search import user_items

router = APIRouter(prefix="/items", tags=["items"])

# Weaviate answers at most 10,000 results per query (QUERY_MAXIMUM_RESULTS): offset + limit stays
# within it, as MAX_USER_ITEMS does
MAX_OFFSET = 9_900
ADD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": UPLOAD_FORMATS},
                        "label": {
                            "type": "integer",
                            "minimum": 0,
                            "maximum": 9,
                            "description": "the digit; when absent, the model's prediction",
                        },
                    },
                }
            }
        },
    }
}
ADD_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": UserItemResponse, "description": "These bytes with this label were added before"},
    **error_responses(400, 403, 408, 409, 413, 415, 422, 503),
}


def form_label(parts: list[Upload]) -> int | None:
    """The optional `label` field: one digit 0-9 (422 otherwise)."""
    labels = [p for p in parts if p.field == "label"]
    if not labels:
        return None
    text = (labels[0].data or b"").decode("utf-8", "replace").strip()
    if len(labels) > 1 or len(text) != 1 or not text.isdigit() or not text.isascii():
        raise ApiError(422, "invalid_parameters", "label must be one digit 0-9")
    return int(text)


@router.post(
    "",
    status_code=201,
    response_model=UserItemResponse,
    responses=ADD_RESPONSES,
    openapi_extra=ADD_BODY,
)
async def add_item(
    request: Request,
    response: Response,
    encoder: QueryEncoderDep,
    items: UserItemsDep,
    settings: SettingsDep,
    resources: ResourcesDep,
) -> UserItemResponse:
    """Add an image or WAV to the index (201), searchable as soon as this answers; the same bytes
    with the same label again answer 200 with the same id."""
    user_items.refuse_if_read_only(settings.read_only)
    parts = await read_uploads(
        request,
        ("file", "label"),
        settings.max_upload_bytes,
        max_files=2,
        fail_fast=True,
        timeout_s=settings.upload_timeout_s,
    )
    files = [p for p in parts if p.field == "file"]
    if len(files) != 1 or files[0].data is None:
        raise ApiError(422, "missing_file", "send exactly one file in the multipart field 'file'")
    label = form_label(parts)
    item, created = await user_items.add_item(encoder, items, files[0].data, label, files[0].filename)
    resources.embedding_map.invalidate()  # the map shows it on the next /map
    response.status_code = 201 if created else 200
    return item


@router.get("", response_model=UserItemPage, responses=error_responses(422, 503))
async def list_items(
    items: UserItemsDep,
    source: Annotated[Literal["user"], Query(description="whose items: user (the ones added)")] = "user",
    limit: Annotated[int, Query(ge=1, le=100, description="items per page")] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="skip this many (paging)")] = 0,
) -> UserItemPage:
    """The items users added, newest first; page with limit and offset."""
    return await user_items.list_items(items, limit, offset)


@router.delete(
    "/{item_id}",
    status_code=204,
    response_class=Response,
    responses={
        204: {"description": "Deleted: no search returns it any more"},
        **error_responses(403, 404, 422, 503),
        403: {
            "model": ErrorResponse,
            "description": "READ_ONLY is set (read_only), or the item belongs to an indexed data set "
            "(not_user_item)",
        },
    },
)
async def delete_item(
    item_id: Annotated[UUID, Path(description="the id POST /items answered")],
    weaviate: WeaviateDep,
    items: UserItemsDep,
    settings: SettingsDep,
    resources: ResourcesDep,
) -> Response:
    """Delete an item you added; items of the indexed data sets answer 403 not_user_item."""
    user_items.refuse_if_read_only(settings.read_only)
    await user_items.delete_item(weaviate, items, item_id)
    resources.embedding_map.invalidate()
    return Response(status_code=204)
