"""The search use-cases behind the routes: one upload, a batch of uploads, "more like this".

Each goes bytes -> tensor -> embedding -> Weaviate hits -> response. Everything here blocks
(PIL, torch, the Weaviate client) and is called from a worker thread, one hop per request,
so the event loop only shuffles bytes.
"""

import dataclasses
import time
from dataclasses import dataclass
from typing import Literal, TypeVar
from uuid import UUID

import numpy as np
import torch
from weaviate.collections import Collection

from indexer import store
from models.encoders import LoadedEncoders
from models.media_errors import MediaError, UnsupportedMediaError
from models.modality import MODALITIES, OTHER, Modality
from models.preprocess import PreparedQuery, prepare
from service.http_errors import item_not_found, media_status
from service.schemas import (
    BatchSlot,
    ErrorBody,
    ItemQueryInfo,
    QueryInfo,
    RankedResults,
    ResolvedTarget,
    SearchResponse,
    SearchResult,
    SimilarResponse,
    Target,
    Timings,
)
from service.uploads import Upload, too_large_error

Response = TypeVar("Response", bound=RankedResults)
Order = Literal["nearest", "farthest"]


@dataclass(frozen=True)
class SearchParams:
    target: Target
    k: int
    offset: int
    max_distance: float | None
    order: Order = "nearest"


def _ms(seconds: float) -> float:
    return round(seconds * 1000.0, 3)


def resolve_target(modality: Modality, target: Target) -> ResolvedTarget:
    """auto means the other modality: an image finds recordings and vice versa."""
    return OTHER[modality] if target == "auto" else target


def _nearest(
    collection: Collection, vector: np.ndarray, target: ResolvedTarget, params: SearchParams
) -> list[store.Hit]:
    return store.search(
        collection,
        vector.tolist(),
        None if target == "any" else target,
        limit=params.k,
        offset=params.offset,
        max_distance=params.max_distance,
        order=params.order,
    )


def _ranked(
    response: type[Response],
    query: QueryInfo | ItemQueryInfo,
    target: ResolvedTarget,
    params: SearchParams,
    hits: list[store.Hit],
    timings: Timings,
) -> Response:
    """The one place a search answer is assembled, whatever the search started from."""
    return response(
        query=query,
        target=target,
        k=params.k,
        offset=params.offset,
        results=[SearchResult.model_validate(h) for h in hits],
        timings_ms=timings,
    )


def _query_info(prepared: PreparedQuery, probs: np.ndarray) -> QueryInfo:
    """What the service made of one upload; `probs` is its row of class probabilities."""
    label = int(probs.argmax())
    return QueryInfo(
        modality=prepared.modality,
        format=prepared.format,
        predicted_label=label,
        confidence=round(float(probs[label]), 6),
    )


def _prepare(data: bytes, encoders: LoadedEncoders, only: Modality | None) -> PreparedQuery:
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
    only: Modality | None = None,
) -> SearchResponse:
    """One uploaded file -> its search response (raises MediaError / StoreUnavailable)."""
    t0 = time.perf_counter()
    prepared = _prepare(data, encoders, only)
    t1 = time.perf_counter()
    embeddings, probs = encoders.classify(prepared.modality, prepared.tensor.unsqueeze(0))
    t2 = time.perf_counter()
    target = resolve_target(prepared.modality, params.target)
    hits = _nearest(collection, embeddings[0], target, params)
    t3 = time.perf_counter()
    timings = Timings(decode=_ms(t1 - t0), embed=_ms(t2 - t1), search=_ms(t3 - t2), total=_ms(t3 - started))
    return _ranked(SearchResponse, _query_info(prepared, probs[0]), target, params, hits, timings)


def _error_slot(index: int, upload: Upload, exc: MediaError) -> BatchSlot:
    return BatchSlot(
        index=index,
        filename=upload.filename,
        status=media_status(exc),
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
                raise too_large_error(max_bytes)
            prepared[i] = _prepare(upload.data, encoders, None)
        except MediaError as exc:
            slots[i] = _error_slot(i, upload, exc)
        decode_ms[i] = _ms(time.perf_counter() - t0)
    for modality in MODALITIES:
        members = [i for i, p in prepared.items() if p.modality == modality]
        if not members:
            continue
        t0 = time.perf_counter()
        embeddings, probs = encoders.classify(modality, torch.stack([prepared[i].tensor for i in members]))
        embed_ms = _ms((time.perf_counter() - t0) / len(members))  # per file, amortised
        target = resolve_target(modality, params.target)
        for row, i in enumerate(members):
            t1 = time.perf_counter()
            hits = _nearest(collection, embeddings[row], target, params)
            search_ms = _ms(time.perf_counter() - t1)
            total = round(decode_ms[i] + embed_ms + search_ms, 3)
            timings = Timings(decode=decode_ms[i], embed=embed_ms, search=search_ms, total=total)
            query = _query_info(prepared[i], probs[row])
            response = _ranked(SearchResponse, query, target, params, hits, timings)
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
        raise item_not_found(item_id)
    target = resolve_target(item.modality, params.target)
    own = str(item_id)
    query_vector = np.asarray(vector, dtype=np.float32)
    if target in (item.modality, "any") and params.order == "nearest":
        # The item is its own nearest neighbour (distance 0, so ranked first). Fetch one
        # extra and drop it; on later pages it lies before the window, so the window
        # starts one further on.
        wider = dataclasses.replace(params, k=params.k + 1)
        hits = _nearest(collection, query_vector, target, wider)
        if any(h.id == own for h in hits):
            hits = [h for h in hits if h.id != own]
        elif params.offset > 0:
            hits = hits[1:]
        hits = hits[: params.k]
    else:
        # farthest: the item itself (distance 0) could only close the very last page
        hits = [h for h in _nearest(collection, query_vector, target, params) if h.id != own]
    t2 = time.perf_counter()
    timings = Timings(decode=0.0, embed=0.0, search=_ms(t2 - t0), total=_ms(t2 - started))
    query = ItemQueryInfo.model_validate(item)
    return _ranked(SimilarResponse, query, target, params, hits, timings)
