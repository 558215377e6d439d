"""POST /search, /search/image, /search/audio, /search/batch."""

import time
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from service import engine
from service.api.deps import EncodersDep, SettingsDep, StoreDep
from service.errors import ApiError
from service.schemas import BatchResponse, SearchResponse, Target, error_responses, multipart_body
from service.uploads import read_single_upload, read_uploads

router = APIRouter(prefix="/search", tags=["search"])

# Weaviate answers at most 10,000 results per query (QUERY_MAXIMUM_RESULTS); keep offset + k below it.
MAX_OFFSET = 9_800
_ERRORS = error_responses(400, 413, 415, 422, 503)


async def search_params(
    k: Annotated[int, Query(ge=1, le=100, description="number of results")] = 5,
    target: Annotated[
        Target, Query(description="modality to search: auto = the other one than the upload's, any = both")
    ] = "auto",
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="skip this many results (paging)")] = 0,
    max_distance: Annotated[
        float | None, Query(ge=0.0, le=2.0, description="drop results farther than this cosine distance")
    ] = None,
) -> engine.SearchParams:
    return engine.SearchParams(target=target, k=k, offset=offset, max_distance=max_distance)


SearchParamsDep = Annotated[engine.SearchParams, Depends(search_params)]


async def _one(
    request: Request,
    params: engine.SearchParams,
    encoders: EncodersDep,
    store: StoreDep,
    settings: SettingsDep,
    only: str | None,
) -> SearchResponse:
    started = time.perf_counter()
    data = await read_single_upload(request, settings.max_upload_bytes)
    # store.collection inside the worker: it may have to reconnect, which blocks
    return await store.call(
        lambda: engine.search_upload(encoders, store.collection, data, params, started, only)
    )


@router.post(
    "", response_model=SearchResponse, responses=_ERRORS, openapi_extra=multipart_body("file", False)
)
async def search(
    request: Request,
    params: SearchParamsDep,
    encoders: EncodersDep,
    store: StoreDep,
    settings: SettingsDep,
) -> SearchResponse:
    """Search with an uploaded image or WAV; its modality is read from the bytes, not the name."""
    return await _one(request, params, encoders, store, settings, None)


@router.post(
    "/image", response_model=SearchResponse, responses=_ERRORS, openapi_extra=multipart_body("file", False)
)
async def search_image(
    request: Request,
    params: SearchParamsDep,
    encoders: EncodersDep,
    store: StoreDep,
    settings: SettingsDep,
) -> SearchResponse:
    """Search with an image only (415 for anything else); finds spoken digits by default."""
    return await _one(request, params, encoders, store, settings, "image")


@router.post(
    "/audio", response_model=SearchResponse, responses=_ERRORS, openapi_extra=multipart_body("file", False)
)
async def search_audio(
    request: Request,
    params: SearchParamsDep,
    encoders: EncodersDep,
    store: StoreDep,
    settings: SettingsDep,
) -> SearchResponse:
    """Search with a WAV only (415 for anything else); finds handwritten digits by default."""
    return await _one(request, params, encoders, store, settings, "audio")


@router.post(
    "/batch",
    response_model=BatchResponse,
    responses=error_responses(400, 413, 415, 422, 503),
    openapi_extra=multipart_body("files", True),
)
async def search_batch(
    request: Request,
    params: SearchParamsDep,
    encoders: EncodersDep,
    store: StoreDep,
    settings: SettingsDep,
) -> BatchResponse:
    """Up to MAX_BATCH_FILES files (field `files`); one result or one error per file, in order."""
    started = time.perf_counter()
    uploads = await read_uploads(
        request, ("files", "file"), settings.max_upload_bytes, settings.max_batch_files, fail_fast=False
    )
    if not uploads:
        raise ApiError(422, "missing_file", "no files uploaded: send them in the multipart field 'files'")
    slots = await store.call(
        lambda: engine.search_batch(encoders, store.collection, uploads, params, settings.max_upload_bytes)
    )
    total = round((time.perf_counter() - started) * 1000.0, 3)
    return BatchResponse(k=params.k, target=params.target, results=slots, timings_ms={"total": total})
