"""Acceptance: retrieval quality measured through HTTP equals the in-process computation.

200 MNIST test images uploaded as PNG -> top-5 spoken digits; all 300 FSDD validation clips
-> top-5 handwritten digits. Precision@5 (share of the five results that carry the query's
label) must be >= 98% in both directions and within 0.5 points of exact cosine top-5 over
the same gallery computed in-process with numpy: the HTTP path loses nothing.
Needs the trained checkpoint and the full index: the session's (tests/conftest.py `full_index`,
built by the indexer's pipeline), and the validation set's embeddings, computed in-process
once per session (`embedding_memo`: training.evaluate.embed_bytes, the upload path).
"""

import numpy as np
import pytest
from fastapi.testclient import TestClient

from indexer import pipeline
from indexer.settings import IndexerSettings
from models.data import fsdd_items, load_mnist, mnist_png
from models.runtime import load_encoders
from service.main import create_app
from tests.full_set import EmbeddingMemo
from tests.service.helpers import REPO_CHECKPOINT, settings_for

N_IMAGES = 200
K = 5


def precision_at_k(
    queries: np.ndarray, labels: np.ndarray, gallery: np.ndarray, gallery_labels: np.ndarray
) -> float:
    sims = queries @ gallery.T
    top = np.argsort(-sims, axis=1, kind="stable")[:, :K]
    return float((gallery_labels[top] == labels[:, None]).mean())


def http_precision(client: TestClient, blobs: list[bytes], labels: np.ndarray, timings: list[dict]) -> float:
    correct = 0
    for blob, label in zip(blobs, labels, strict=True):
        r = client.post("/search", params={"k": K}, files={"file": ("query", blob)})
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert len(results) == K
        correct += sum(hit["label"] == int(label) for hit in results)
        timings.append(r.json()["timings_ms"])
    return correct / (K * len(blobs))


@pytest.mark.slow
def test_http_retrieval_quality_equals_in_process(
    full_index: tuple[IndexerSettings, pipeline.Report], embedding_memo: EmbeddingMemo
) -> None:
    assert REPO_CHECKPOINT.is_file(), f"the trained checkpoint {REPO_CHECKPOINT} is missing"
    checkpoint = REPO_CHECKPOINT.resolve()
    index, report = full_index
    assert index.checkpoint == checkpoint and report.ok, (report.failures[:5], report.problems)
    data_dir = index.data_dir

    images, image_labels = load_mnist(data_dir, train=False)
    pngs = [mnist_png(img) for img in images]
    clips = fsdd_items(data_dir, "validation")
    wavs = [c.path.read_bytes() for c in clips]
    clip_labels = np.array([c.label for c in clips])
    assert len(clips) == 300
    picks = np.random.default_rng(0).choice(len(pngs), N_IMAGES, replace=False)
    query_pngs, query_png_labels = [pngs[i] for i in picks], image_labels[picks]

    encoders = load_encoders(checkpoint, "cpu")
    image_gallery = embedding_memo.embed_bytes(encoders, pngs)[0]
    audio_gallery = embedding_memo.embed_bytes(encoders, wavs)[0]
    local_i2a = precision_at_k(image_gallery[picks], query_png_labels, audio_gallery, clip_labels)
    local_a2i = precision_at_k(audio_gallery, clip_labels, image_gallery, image_labels)

    settings = settings_for(index, checkpoint=checkpoint, device="cpu")
    timings: list[dict] = []
    with TestClient(create_app(settings)) as client:
        assert client.get("/readyz").status_code == 200
        http_i2a = http_precision(client, query_pngs, query_png_labels, timings)
        http_a2i = http_precision(client, wavs, clip_labels, timings)

    summary = {k: round(float(np.median([t[k] for t in timings])), 2) for k in timings[0]}
    print(
        f"\nimage->audio P@5 http {http_i2a:.4f} local {local_i2a:.4f}; "
        f"audio->image P@5 http {http_a2i:.4f} local {local_a2i:.4f}; median timings_ms {summary}"
    )
    assert http_i2a >= 0.98 and http_a2i >= 0.98
    assert abs(http_i2a - local_i2a) <= 0.005
    assert abs(http_a2i - local_a2i) <= 0.005
