"""The search use-cases behind the routes: one upload, a batch of uploads, "more like this",
a typed digit.

Each goes bytes -> tensor -> embedding -> Weaviate hits -> response. Uploads are encoded on
the query encoder's thread (batched with concurrent ones) and searched on the event loop
(one gRPC call); "more like this" needs no encoder and runs in a worker thread.
Failures are the search's own (service/search/errors.py, models' media errors, the store's):
service/api/errors.py alone says what they are in HTTP.
"""

import asyncio
import dataclasses
import time
from dataclasses import dataclass
from typing import Literal, TypeVar
from uuid import UUID

import numpy as np

import store
from models.media_errors import MediaError
from models.modality import OTHER, Modality
from service.api.schemas import (
    ItemQueryInfo,
    QueryInfo,
    RankedResults,
    ResolvedTarget,
    SearchResponse,
    SearchResult,
    SimilarResponse,
    Target,
    TextQueryInfo,
    TextSearchResponse,
    Timings,
)
from service.api.uploads import Upload, too_large_error
from service.search import digit_words
from service.search.errors import ItemNotFound, UnknownDigitWord
from service.search.query_encoder import EncodedQuery, QueryEncoder, milliseconds
from service.search.store_gateway import StoreGateway

Response = TypeVar("Response", bound=RankedResults)
Order = Literal["nearest", "farthest"]


@dataclass(frozen=True)
class SearchParams:
    target: Target
    k: int
    offset: int
    max_distance: float | None
    order: Order = "nearest"


def resolve_target(modality: Modality, target: Target) -> ResolvedTarget:
    """auto means the other modality: an image finds recordings and vice versa."""
    return OTHER[modality] if target == "auto" else target


def _request(vector: np.ndarray, target: ResolvedTarget, params: SearchParams) -> store.SearchRequest:
    return store.SearchRequest(
        vector.tolist(),
        None if target == "any" else target,
        limit=params.k,
        offset=params.offset,
        max_distance=params.max_distance,
        order=params.order,
    )


def _ranked(
    response: type[Response],
    query: QueryInfo | ItemQueryInfo | TextQueryInfo,
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


def query_info(encoded: EncodedQuery) -> QueryInfo:
    """What the service made of one upload."""
    label = int(encoded.probs.argmax())
    return QueryInfo(
        modality=encoded.modality,
        format=encoded.format,
        predicted_label=label,
        confidence=round(float(encoded.probs[label]), 6),
    )


async def search_upload(
    encoder: QueryEncoder,
    weaviate: StoreGateway,
    data: bytes,
    params: SearchParams,
    started: float,
    only: Modality | None = None,
) -> SearchResponse:
    """One uploaded file -> its search response (raises MediaError / StoreUnavailable)."""
    encoded = await encoder.encode(data, only)
    target = resolve_target(encoded.modality, params.target)
    t0 = time.perf_counter()
    hits = await weaviate.search(_request(encoded.embedding, target, params))
    t1 = time.perf_counter()
    timings = Timings(
        decode=encoded.decode_ms,
        embed=encoded.embed_ms,
        search=milliseconds(t1 - t0),
        total=milliseconds(t1 - started),
    )
    return _ranked(SearchResponse, query_info(encoded), target, params, hits, timings)


async def search_batch(
    encoder: QueryEncoder,
    weaviate: StoreGateway,
    uploads: list[Upload],
    params: SearchParams,
    max_bytes: int,
) -> list[SearchResponse | MediaError]:
    """Each file searched on its own, in order: its response, or the MediaError of a broken
    file (the rest go on).

    The files are encoded side by side, so files of one modality share forward passes.
    """

    async def one(upload: Upload) -> SearchResponse | MediaError:
        try:
            if upload.data is None:
                raise too_large_error(max_bytes)
            encoded = await encoder.encode(upload.data)
        except MediaError as exc:
            return exc
        target = resolve_target(encoded.modality, params.target)
        t0 = time.perf_counter()
        hits = await weaviate.search(_request(encoded.embedding, target, params))
        search_ms = milliseconds(time.perf_counter() - t0)
        total = round(encoded.decode_ms + encoded.embed_ms + search_ms, 3)
        timings = Timings(decode=encoded.decode_ms, embed=encoded.embed_ms, search=search_ms, total=total)
        return _ranked(SearchResponse, query_info(encoded), target, params, hits, timings)

    outcomes = await asyncio.gather(*(one(u) for u in uploads), return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException) and not isinstance(outcome, MediaError):
            raise outcome  # Weaviate trouble fails the request (503), as for a single upload
    return [o for o in outcomes if isinstance(o, SearchResponse | MediaError)]


async def search_similar(
    weaviate: StoreGateway, item_id: UUID, params: SearchParams, started: float
) -> SimilarResponse:
    """More like this: search from an indexed item's stored vector, leaving the item out."""
    t0 = time.perf_counter()
    found = await weaviate.get_item_and_vector(item_id)
    if found is None:
        raise ItemNotFound(item_id)
    item, vector = found
    target = resolve_target(item.modality, params.target)
    own = str(item_id)
    query_vector = np.asarray(vector, dtype=np.float32)
    if target in (item.modality, "any") and params.order == "nearest":
        # The item is its own nearest neighbour (distance 0, so ranked first). Fetch one
        # extra and drop it; on later pages it lies before the window, so the window
        # starts one further on.
        wider = dataclasses.replace(params, k=params.k + 1)
        hits = await weaviate.search(_request(query_vector, target, wider))
        if any(h.id == own for h in hits):
            hits = [h for h in hits if h.id != own]
        elif params.offset > 0:
            hits = hits[1:]
        hits = hits[: params.k]
    else:
        # farthest: the item itself (distance 0) could only close the very last page
        hits = [h for h in await weaviate.search(_request(query_vector, target, params)) if h.id != own]
    t2 = time.perf_counter()
    timings = Timings(decode=0.0, embed=0.0, search=milliseconds(t2 - t0), total=milliseconds(t2 - started))
    query = ItemQueryInfo.model_validate(item)
    return _ranked(SimilarResponse, query, target, params, hits, timings)


async def search_text(
    prototypes: np.ndarray, weaviate: StoreGateway, text: str, params: SearchParams, started: float
) -> TextSearchResponse:
    """A typed digit: its class prototype, shared by both modalities, is the query vector."""
    digit = digit_words.digit_of(text)
    if digit is None:
        raise UnknownDigitWord(
            f"{text.strip()!r} names no digit; type a numeral or a digit's name in English, German, "
            f"French, Spanish, Italian, Portuguese or Dutch, e.g. {digit_words.EXAMPLES}"
        )
    target: ResolvedTarget = "any" if params.target == "auto" else params.target
    t0 = time.perf_counter()
    hits = await weaviate.search(_request(prototypes[digit], target, params))
    t1 = time.perf_counter()
    timings = Timings(decode=0.0, embed=0.0, search=milliseconds(t1 - t0), total=milliseconds(t1 - started))
    query = TextQueryInfo(text=digit_words.normalise(text), digit=digit)
    return _ranked(TextSearchResponse, query, target, params, hits, timings)
