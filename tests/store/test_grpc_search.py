"""store.grpc_search against a real Weaviate: the same answers as weaviate-client's query path,
and clear errors for a wrong key, a missing collection and a server that is not there."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import pytest
from weaviate.collections import Collection

import store
from store.connection import ServerAddress, server_address, server_key
from store.grpc_search import GrpcSearch
from tests.store.toy_vectors import unit
from tests.weaviate_server import free_port

T = TypeVar("T")


def on_a_loop(address: ServerAddress, key: str | None, use: Callable[[GrpcSearch], Awaitable[T]]) -> T:
    """use(a GrpcSearch) on a fresh event loop (its channel belongs to the loop that opened it),
    in a thread of its own: a session fixture (Playwright's) may keep a loop running on this one."""

    async def main() -> T:
        search = GrpcSearch(address, key, timeout_s=10.0)
        try:
            return await use(search)
        finally:
            await search.close()

    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, main()).result()


def requests(query: list[float]) -> list[store.SearchRequest]:
    """Every shape a search takes: each target, both orders, pages, a distance bound."""
    out = [
        store.SearchRequest(query, target, limit, offset, order=order)  # type: ignore[arg-type]
        for target, order, (limit, offset) in itertools.product(
            ("image", "audio", None), ("nearest", "farthest"), ((5, 0), (3, 4), (40, 0))
        )
    ]
    return out + [store.SearchRequest(query, None, 40, max_distance=0.9)]


def test_answers_equal_the_clients(toy: Collection, weaviate_settings: store.StoreSettings) -> None:
    queries = [unit(np.random.default_rng(seed)) for seed in (10, 11)]
    queries.append(store.get_vector(toy, store.object_uuid("toy", "t", "0")))  # an exact tie at the top
    everything = [r for q in queries for r in requests(q)]

    async def run_all(search: GrpcSearch) -> list[list[store.Hit]]:
        return [await search.search(toy.name, r) for r in everything]

    ours = on_a_loop(server_address(weaviate_settings), server_key(weaviate_settings), run_all)
    compared = 0
    for request, hits in zip(everything, ours, strict=True):
        theirs = store.search_with(toy, request)
        assert [h.id for h in hits] == [h.id for h in theirs], request
        for a, b in zip(hits, theirs, strict=True):
            assert a.distance == pytest.approx(b.distance, abs=1e-6)
            assert (a.modality, a.label, a.source, a.split, a.name, a.speaker, a.model_version) == (
                b.modality,
                b.label,
                b.source,
                b.split,
                b.name,
                b.speaker,
                b.model_version,
            )
        compared += len(hits)
    assert compared > 500
    images = [h for hits in ours for h in hits if h.modality == "image"]
    assert images and all(h.speaker is None for h in images)  # unset, as the client reads it
    bounded = ours[len(requests(queries[0])) - 1]
    assert bounded and all(h.distance <= 0.9 + 1e-6 for h in bounded)


def search_error(address: ServerAddress, key: str | None, collection: str) -> str:
    async def one(search: GrpcSearch) -> str:
        with pytest.raises(store.StoreUnavailable) as raised:
            await search.search(collection, store.SearchRequest(unit(np.random.default_rng(0)), "image", 5))
        return str(raised.value)

    return on_a_loop(address, key, one)


def test_a_wrong_key_is_refused_clearly(toy: Collection, weaviate_settings: store.StoreSettings) -> None:
    message = search_error(server_address(weaviate_settings), "not-the-key", toy.name)
    assert "invalid api key" in message


def test_a_missing_collection_is_an_error_not_an_empty_answer(
    toy: Collection, weaviate_settings: store.StoreSettings
) -> None:
    message = search_error(
        server_address(weaviate_settings), server_key(weaviate_settings), "NoSuchCollection"
    )
    assert message.startswith("search failed:") and "NoSuchCollection" in message


def test_no_server_is_unavailable() -> None:
    address = ServerAddress("127.0.0.1", free_port(), free_port(), False)
    assert "UNAVAILABLE" in search_error(address, None, "Digit")
