"""Batched, asyncio serving returns the same results as one upload at a time through the
plain pipeline (prepare -> a forward pass of one -> the blocking client's query)."""

from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np

import store
from models.modality import OTHER
from models.preprocess import prepare
from models.runtime import load_encoders
from service.settings import ServiceSettings
from tests.service.helpers import LiveServer, Media

K = 10


def sequential_results(settings: ServiceSettings, blobs: list[bytes]) -> list[list[tuple[str, float]]]:
    encoders = load_encoders(settings.checkpoint, "cpu")
    client = store.connect(settings)
    try:
        collection = client.collections.get(settings.collection)
        expected = []
        for data in blobs:
            query = prepare(data, encoders.config)
            embedding = encoders.embed(query.modality, query.tensor[None])[0]
            hits = store.search(collection, embedding.tolist(), OTHER[query.modality], limit=K)
            expected.append([(h.id, h.distance) for h in hits])
        return expected
    finally:
        client.close()


def encode_passes(server: LiveServer) -> tuple[float, float]:
    """(forward passes, uploads embedded) so far, from the service's /metrics."""
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    totals = {"count": 0.0, "sum": 0.0}
    for line in text.splitlines():
        for kind in totals:
            if line.startswith(f"digitbridge_encode_batch_size_{kind}{{"):
                totals[kind] += float(line.rsplit(" ", 1)[1])
    return totals["count"], totals["sum"]


def test_concurrent_batched_answers_equal_one_at_a_time(
    live_server: LiveServer, small_index: ServiceSettings, media: Media
) -> None:
    blobs = (media.pngs + media.wavs) * 3  # 60 uploads, both modalities, repeats in one batch
    expected = sequential_results(small_index, blobs)

    def ask(data: bytes) -> list[tuple[str, float]]:
        res = httpx.post(f"{live_server.url}/search", params={"k": K}, files={"file": data}, timeout=60)
        assert res.status_code == 200, res.text
        return [(r["id"], r["distance"]) for r in res.json()["results"]]

    before = encode_passes(live_server)
    with ThreadPoolExecutor(16) as pool:  # concurrent, so the encoder batches them
        served = list(pool.map(ask, blobs))
    passes, uploads = (
        after - earlier for after, earlier in zip(encode_passes(live_server), before, strict=True)
    )
    assert uploads == len(blobs)
    assert passes < uploads, "concurrent uploads should have shared forward passes"

    for got, want in zip(served, expected, strict=True):
        assert [i for i, _ in got] == [i for i, _ in want]
        np.testing.assert_allclose([d for _, d in got], [d for _, d in want], atol=1e-5)
