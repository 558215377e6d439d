"""The floor: one search's work in this process, no HTTP (decode + embed + store.search, batch 1),
and the encoders alone at batch 1 and 64 (per-item cost)."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from weaviate.collections import Collection

import store
from models.modality import OTHER
from models.preprocess import prepare
from models.runtime import Encoders


def stats_ms(seconds: Sequence[float]) -> dict[str, float]:
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    return {
        "n": int(ms.size),
        "mean": round(float(ms.mean()), 3),
        "p50": round(float(np.percentile(ms, 50)), 3),
        "p95": round(float(np.percentile(ms, 95)), 3),
        "p99": round(float(np.percentile(ms, 99)), 3),
    }


def pipeline_floor(
    encoders: Encoders, collection: Collection, uploads: Sequence[bytes], k: int = 5, warmup: int = 10
) -> dict[str, dict[str, float]]:
    """Per request, sequentially: prepare (decode + preprocess), classify at batch 1, store.search."""
    steps: dict[str, list[float]] = {"decode": [], "embed": [], "search": [], "total": []}
    for i, data in enumerate([*uploads[:warmup], *uploads]):
        t0 = time.perf_counter()
        prepared = prepare(data, encoders.config)
        t1 = time.perf_counter()
        embeddings, _ = encoders.classify(prepared.modality, prepared.tensor[None])
        t2 = time.perf_counter()
        store.search(collection, embeddings[0].tolist(), OTHER[prepared.modality], limit=k)
        t3 = time.perf_counter()
        if i >= warmup:
            for name, s in (("decode", t1 - t0), ("embed", t2 - t1), ("search", t3 - t2), ("total", t3 - t0)):
                steps[name].append(s)
    return {name: stats_ms(values) for name, values in steps.items()}


def embed_alone(
    encoders: Encoders, uploads: Sequence[bytes], batch: int, budget_s: float
) -> dict[str, float]:
    """Forward passes of `batch` prepared inputs, repeated for about `budget_s`: ms per item."""
    prepared = [prepare(data, encoders.config) for data in uploads[:batch]]
    while len(prepared) < batch:  # fewer uploads than the batch: repeat them
        prepared += prepared[: batch - len(prepared)]
    modality = prepared[0].modality
    tensor = np.stack([p.tensor for p in prepared])
    for _ in range(3):  # warm-up (allocator, cuDNN autotuning on a GPU)
        encoders.classify(modality, tensor)
    times: list[float] = []
    deadline = time.perf_counter() + budget_s
    while len(times) < 5 or (time.perf_counter() < deadline and len(times) < 2000):
        t = time.perf_counter()
        encoders.classify(modality, tensor)  # returns numpy: includes the copy back from a GPU
        times.append(time.perf_counter() - t)
    call = stats_ms(times)
    return {
        "batch": batch,
        "calls": call["n"],
        "ms_per_call_p50": call["p50"],
        "ms_per_item_p50": round(call["p50"] / batch, 4),
        "items_per_s": round(batch / (call["p50"] / 1000.0), 1),
    }


def run_in_process(
    encoders: Encoders,
    collection: Collection,
    images: Sequence[bytes],
    clips: Sequence[bytes],
    requests: int,
    embed_budget_s: float,
    cpu_threads: int,
) -> dict:
    """All of the floor on one engine; PyTorch on the CPU with `cpu_threads` intra-op threads (the
    service's choice, as ONNX Runtime's, so the floor and the HTTP numbers compare like with like)."""
    restore = None
    if encoders.runtime == "torch" and encoders.device == "cpu":
        from models.encoders import torch_threads  # the torch engine only

        restore = torch_threads(cpu_threads)
    try:
        return {
            "device": encoders.device,
            "runtime": encoders.runtime,
            "pipeline_batch1": {
                "png": pipeline_floor(encoders, collection, images[:requests]),
                "wav": pipeline_floor(encoders, collection, clips[:requests]),
            },
            "embed_alone": {
                modality: [embed_alone(encoders, uploads, b, embed_budget_s) for b in (1, 64)]
                for modality, uploads in (("image", images), ("audio", clips))
            },
        }
    finally:
        if restore is not None:
            restore()
