"""POST /search, /search/image, /search/audio, /search/batch; GET /search/text (a typed digit)."""

import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request

from models.media_errors import MediaError
from models.modality import Modality
from service.api.deps import EncodersDep, QueryEncoderDep, ResourcesDep, SettingsDep, WeaviateDep
from service.api.errors import ApiError, media_status
from service.api.schemas import (
    BatchResponse,
    BatchSlot,
    ErrorBody,
    ErrorResponse,
    SearchResponse,
    TextSearchResponse,
    error_responses,
    multipart_body,
)
from service.api.search_query import SearchParamsDep, openapi_parameters
from service.api.uploads import Upload, read_single_upload, read_uploads
from service.search import digit_words, use_cases

router = APIRouter(prefix="/search", tags=["search"])  # slots: service.middleware.admission

UPLOAD_ERRORS = error_responses(400, 408, 413, 415, 422, 503)


TEXT_ERRORS = {
    **error_responses(503),
    422: {
        "model": ErrorResponse,
        "description": "q names no digit (unknown_digit_word; the message gives examples), "
        "is empty or too long, or another parameter is out of bounds (invalid_parameters)",
    },
}


@router.get(
    "/text", response_model=TextSearchResponse, responses=TEXT_ERRORS, openapi_extra=openapi_parameters()
)
async def search_text(
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=digit_words.MAX_QUERY_CHARS,
            description="a numeral 0-9 or a digit's name in English, German, French, Spanish, Italian, "
            "Portuguese or Dutch; case, accents and surrounding spaces are ignored",
            examples=["sieben"],
        ),
    ],
    params: SearchParamsDep,
    encoders: EncodersDep,
    weaviate: WeaviateDep,
) -> TextSearchResponse:
    """Search both modalities with a typed digit: its class prototype is the query vector
    (target auto means any here: a typed digit has no modality of its own)."""
    started = time.perf_counter()
    if not q.strip():
        raise ApiError(422, "invalid_parameters", "q is empty: type a digit, e.g. 7 or seven")
    return await use_cases.search_text(encoders.prototypes, weaviate, q, params, started)


def single_upload_route(only: Modality | None) -> Callable[..., Awaitable[SearchResponse]]:
    """The handler of a one-file search; `only` restricts the upload to one modality (else 415)."""

    async def search_one_upload(
        request: Request, params: SearchParamsDep, resources: ResourcesDep
    ) -> SearchResponse:
        # one dependency for the encoder, the store and the settings: each one solved is a cost
        started = time.perf_counter()
        settings = resources.settings
        data = await read_single_upload(request, settings.max_upload_bytes, settings.upload_timeout_s)
        return await use_cases.search_upload(
            resources.query_encoder, resources.weaviate, data, params, started, only
        )

    return search_one_upload


# path, route name (the OpenAPI operation's), the one modality it takes, its description
SINGLE_UPLOAD_ROUTES: tuple[tuple[str, str, Modality | None, str], ...] = (
    (
        "",
        "search",
        None,
        "Search with an uploaded picture (PNG, JPEG, BMP, GIF, WebP, TIFF, HEIC, AVIF) or recording (WAV, "
        "FLAC, Ogg Vorbis/Opus, WebM Opus, MP3, M4A/MP4 AAC); its modality is read from the bytes, "
        "not the name.",
    ),
    (
        "/image",
        "search_image",
        "image",
        "Search with a picture only (PNG, JPEG, BMP, GIF, WebP, TIFF, HEIC, AVIF; 415 for anything "
        "else); finds spoken digits by default.",
    ),
    (
        "/audio",
        "search_audio",
        "audio",
        "Search with a recording only (WAV, FLAC, Ogg, WebM, MP3, M4A/MP4; 415 for anything else); "
        "finds handwritten digits by default.",
    ),
)
for path, name, only, description in SINGLE_UPLOAD_ROUTES:
    router.add_api_route(
        path,
        single_upload_route(only),
        methods=["POST"],
        name=name,
        description=description,
        response_model=SearchResponse,
        responses=UPLOAD_ERRORS,
        openapi_extra=multipart_body("file", many=False) | openapi_parameters(),
    )


def batch_slot(index: int, upload: Upload, outcome: SearchResponse | MediaError) -> BatchSlot:
    """One file's place in a batch answer: its results, or its error with that error's status."""
    if isinstance(outcome, MediaError):
        error = ErrorBody(code=outcome.code, message=outcome.message)
        return BatchSlot(index=index, filename=upload.filename, status=media_status(outcome), error=error)
    return BatchSlot(index=index, filename=upload.filename, status=200, result=outcome)


@router.post(
    "/batch",
    response_model=BatchResponse,
    responses=UPLOAD_ERRORS,
    openapi_extra=multipart_body("files", many=True) | openapi_parameters(),
)
async def search_batch(
    request: Request,
    params: SearchParamsDep,
    encoder: QueryEncoderDep,
    weaviate: WeaviateDep,
    settings: SettingsDep,
) -> BatchResponse:
    """Up to MAX_BATCH_FILES files (field `files`); one result or one error per file, in order."""
    started = time.perf_counter()
    uploads = await read_uploads(
        request,
        ("files", "file"),
        settings.max_upload_bytes,
        settings.max_batch_files,
        fail_fast=False,
        timeout_s=settings.upload_timeout_s,
    )
    if not uploads:
        raise ApiError(422, "missing_file", "no files uploaded: send them in the multipart field 'files'")
    outcomes = await use_cases.search_batch(encoder, weaviate, uploads, params, settings.max_upload_bytes)
    slots = [batch_slot(i, u, outcome) for i, (u, outcome) in enumerate(zip(uploads, outcomes, strict=True))]
    total = round((time.perf_counter() - started) * 1000.0, 3)
    return BatchResponse(k=params.k, target=params.target, results=slots, timings_ms={"total": total})
