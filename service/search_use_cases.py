"""The work behind the search routes: bytes -> tensor -> embedding -> Weaviate hits.

Everything here blocks (PIL, torch, the Weaviate client) and is called from a worker
thread, one hop per request, so the event loop only shuffles bytes.
"""

import time
from dataclasses import dataclass
from uuid import UUID

import numpy as np
import torch
from weaviate.collections import Collection

from indexer import store
from models.encoders import LoadedEncoders
from models.media_errors import MediaError, MediaTooLargeError, UnsupportedMediaError
from models.preprocess import PreparedQuery, prepare
from service.errors import ApiError
from service.schemas import (
    BatchSlot,
    ErrorBody,
    ItemQueryInfo,
    QueryInfo,
    ResolvedTarget,
    SearchResponse,
    SearchResult,
    SimilarResponse,
    Target,
    Timings,
)
from service.uploads import Upload

_OTHER = {"image": "audio", "audio": "image"}


@dataclass(frozen=True)
class SearchParams:
    target: Target
    k: int
    offset: int
    max_distance: float | None


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def resolve_target(modality: str, target: Target) -> ResolvedTarget:
    """auto means the other modality: an image finds recordings and vice versa."""
    return _OTHER[modality] if target == "auto" else target  # type: ignore[return-value]


def _results(hits: list[store.Hit]) -> list[SearchResult]:
    return [
        SearchResult(
            id=UUID(h.id),
            modality=h.modality,  # type: ignore[arg-type]
            label=h.label,
            source=h.source,
            name=h.name,
            speaker=h.speaker,
            distance=round(h.distance, 6),
            media_url=f"/items/{h.id}/media",
        )
        for h in hits
    ]


def _search(collection: Collection, vector: np.ndarray, target: ResolvedTarget, p: SearchParams) -> list:
    return store.search(
        collection,
        vector.tolist(),
        None if target == "any" else target,
        limit=p.k,
        offset=p.offset,
        max_distance=p.max_distance,
    )


def _prepare(data: bytes, encoders: LoadedEncoders, only: str | None) -> PreparedQuery:
    prepared = prepare(data, encoders.config)
    if only is not None and prepared.modality != only:
        raise UnsupportedMediaError(
            f"this endpoint takes {only} files, the upload is {prepared.modality} ({prepared.format}); "
            f"use /search/{prepared.modality} or /search"
        )
    return prepared


def search_upload(
    encoders: LoadedEncoders,
    collection: Collection,
    data: bytes,
    params: SearchParams,
    started: float,
    only: str | None = None,
) -> SearchResponse:
    """One uploaded file -> its search response (raises MediaError / StoreUnavailable)."""
    t0 = time.perf_counter()
    prepared = _prepare(data, encoders, only)
    t1 = time.perf_counter()
    embeddings, probs = encoders.classify(prepared.modality, prepared.tensor.unsqueeze(0))
    t2 = time.perf_counter()
    target = resolve_target(prepared.modality, params.target)
    hits = _search(collection, embeddings[0], target, params)
    t3 = time.perf_counter()
    label = int(probs[0].argmax())
    return SearchResponse(
        query=QueryInfo(
            modality=prepared.modality,
            format=prepared.format,
            predicted_label=label,
            confidence=round(float(probs[0, label]), 6),
        ),
        target=target,
        k=params.k,
        offset=params.offset,
        results=_results(hits),
        timings_ms=Timings(
            decode=_ms(t1 - t0), embed=_ms(t2 - t1), search=_ms(t3 - t2), total=_ms(t3 - started)
        ),
    )


def _error_slot(index: int, upload: Upload, exc: MediaError) -> BatchSlot:
    return BatchSlot(
        index=index,
        filename=upload.filename,
        status=exc.http_status,
        error=ErrorBody(code=exc.code, message=exc.message),
    )


def search_batch(
    encoders: LoadedEncoders,
    collection: Collection,
    uploads: list[Upload],
    params: SearchParams,
    max_bytes: int,
) -> list[BatchSlot]:
    """Each file searched on its own; a broken file gets an error in its slot, the rest go on.

    Files of one modality are embedded in a single forward pass.
    """
    slots: list[BatchSlot | None] = [None] * len(uploads)
    prepared: dict[int, PreparedQuery] = {}
    decode_ms: dict[int, float] = {}
    for i, upload in enumerate(uploads):
        t0 = time.perf_counter()
        try:
            if upload.data is None:
                raise MediaTooLargeError(f"file exceeds the limit of {max_bytes:,} bytes (MAX_UPLOAD_BYTES)")
            prepared[i] = _prepare(upload.data, encoders, None)
        except MediaError as exc:
            slots[i] = _error_slot(i, upload, exc)
        decode_ms[i] = _ms(time.perf_counter() - t0)
    for modality in ("image", "audio"):
        members = [i for i, p in prepared.items() if p.modality == modality]
        if not members:
            continue
        t0 = time.perf_counter()
        embeddings, probs = encoders.classify(modality, torch.stack([prepared[i].tensor for i in members]))
        embed_ms = _ms((time.perf_counter() - t0) / len(members))  # per file, amortised
        for row, i in enumerate(members):
            t1 = time.perf_counter()
            target = resolve_target(modality, params.target)
            hits = _search(collection, embeddings[row], target, params)
            search_ms = _ms(time.perf_counter() - t1)
            label = int(probs[row].argmax())
            response = SearchResponse(
                query=QueryInfo(
                    modality=modality,  # type: ignore[arg-type]
                    format=prepared[i].format,
                    predicted_label=label,
                    confidence=round(float(probs[row, label]), 6),
                ),
                target=target,
                k=params.k,
                offset=params.offset,
                results=_results(hits),
                timings_ms=Timings(
                    decode=decode_ms[i],
                    embed=embed_ms,
                    search=search_ms,
                    total=round(decode_ms[i] + embed_ms + search_ms, 3),
                ),
            )
            slots[i] = BatchSlot(index=i, filename=uploads[i].filename, status=200, result=response)
    return [s for s in slots if s is not None]


def search_similar(
    collection: Collection, item_id: UUID, params: SearchParams, started: float
) -> SimilarResponse:
    """More like this: search from an indexed item's stored vector, leaving the item out."""
    t0 = time.perf_counter()
    item = store.get_item(collection, item_id)
    vector = store.get_vector(collection, item_id) if item is not None else None
    if item is None or vector is None:
        raise ApiError(404, "not_found", f"no indexed item with id {item_id}")
    target = resolve_target(item.modality, params.target)
    own = str(item_id)
    if target in (item.modality, "any"):
        # The item is its own nearest neighbour (distance 0, so ranked first). Fetch one
        # extra and drop it; on later pages it lies before the window, so the window
        # starts one further on.
        wider = SearchParams(params.target, params.k + 1, params.offset, params.max_distance)
        hits = _search(collection, np.asarray(vector, dtype=np.float32), target, wider)
        if any(h.id == own for h in hits):
            hits = [h for h in hits if h.id != own]
        elif params.offset > 0:
            hits = hits[1:]
        hits = hits[: params.k]
    else:
        hits = _search(collection, np.asarray(vector, dtype=np.float32), target, params)
    t2 = time.perf_counter()
    return SimilarResponse(
        query=ItemQueryInfo(id=item_id, modality=item.modality, label=item.label),  # type: ignore[arg-type]
        target=target,
        k=params.k,
        offset=params.offset,
        results=_results(hits),
        timings_ms=Timings(decode=0.0, embed=0.0, search=_ms(t2 - t0), total=_ms(t2 - started)),
    )
