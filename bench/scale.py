"""Scale: the real 128-d embeddings plus noise, 100,000 to 1,000,000 of them with the real
per-modality proportions (~97% images / 3% recordings), in two layouts:

* "filter": one collection, every query filtered by `modality` (what the service does today);
* "per_modality": one collection per modality, queries unfiltered.

Per size and layout: import rate, sequential query latency p50/p99 both ways, recall@10 against
exact cosine search, and Weaviate's memory; with --scale-ef, the same queries again at each
HNSW ef given (set on the imported collections: no re-import), the recall/latency trade-off.
Sizes run smallest first; a size whose predicted import time exceeds the budget is not run but
extrapolated from the measured slope, and marked so. --scale-layouts runs one layout alone.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import weaviate
from weaviate.classes.config import Reconfigure
from weaviate.classes.query import Filter, MetadataQuery
from weaviate.collections import Collection

import store
from bench import SCALE_LAYOUTS, log
from bench.in_process import stats_ms
from bench.recall import K, exact_topk, index_config
from bench.resources import memory_mb
from bench.stack import wait_indexed
from store import StoreSettings


@dataclass(frozen=True)
class Corpus:
    vectors: np.ndarray  # [N, D] float32, unit length
    modalities: np.ndarray  # [N] "image" | "audio"


def noise_scale(real: np.ndarray, rng: np.random.Generator, sample: int = 1000) -> float:
    """Median Euclidean distance from a real embedding to its nearest neighbour: the noise norm,
    so that synthetic points spread around the real ones as the real ones spread among themselves."""
    rows = rng.choice(len(real), size=min(sample, len(real)), replace=False)
    dist = 2.0 - 2.0 * (real[rows] @ real.T)  # squared Euclidean between unit vectors
    dist[np.arange(len(rows)), rows] = np.inf
    return float(np.sqrt(np.maximum(np.median(dist.min(axis=1)), 0.0)))


def real_counts(real: Corpus, n: int) -> dict[str, int]:
    """n objects split between the modalities in the real proportions."""
    n_audio = max(1, round(n * float(np.mean(real.modalities == "audio"))))
    return {"image": n - n_audio, "audio": n_audio}


def synthesise(real: Corpus, counts: dict[str, int], noise: float, rng: np.random.Generator) -> Corpus:
    """counts[m] random real vectors of modality m plus Gaussian noise of norm ~`noise`, normalised."""
    parts, mods = [], []
    for modality, count in counts.items():
        base = real.vectors[real.modalities == modality]
        v = base[rng.integers(0, len(base), size=count)]
        v = v + rng.normal(0.0, noise / math.sqrt(v.shape[1]), size=v.shape).astype(np.float32)
        parts.append(v / np.linalg.norm(v, axis=1, keepdims=True))
        mods += [modality] * count
    return Corpus(np.concatenate(parts).astype(np.float32), np.asarray(mods))


def import_corpus(
    client: weaviate.WeaviateClient, collection: Collection, corpus: Corpus, rows: np.ndarray, deadline: float
) -> dict[str, Any]:
    """Batch-import `rows` of the corpus (uuid = row + 1), then wait until the vector index holds
    them all (Weaviate indexes asynchronously); stops early past `deadline`."""
    t = time.perf_counter()
    aborted = False
    with collection.batch.fixed_size(batch_size=1000, concurrent_requests=2) as batch:
        for n, row in enumerate(rows):
            batch.add_object(
                properties={"modality": str(corpus.modalities[row])},
                uuid=uuid.UUID(int=int(row) + 1),
                vector=corpus.vectors[row].tolist(),
            )
            if n % 10_000 == 0 and time.perf_counter() > deadline:
                aborted = True
                break
    batch_s = time.perf_counter() - t
    failed = len(collection.batch.failed_objects)
    if not aborted:
        try:
            wait_indexed(client, collection.name, timeout_s=max(deadline - time.perf_counter(), 60.0))
        except TimeoutError:
            aborted = True
    seconds = time.perf_counter() - t
    return {
        "objects": len(rows),
        "seconds": seconds,
        "batch_s": batch_s,
        "failed": failed,
        "aborted": aborted,
    }


def query_layout(
    collections: dict[str, Collection], filtered: bool, corpus: Corpus, queries: Corpus
) -> dict[str, Any]:
    """Sequential near-vector queries for both targets: latency and recall@10 against exact."""
    out: dict[str, Any] = {}
    for target in ("audio", "image"):
        qs = queries.vectors[queries.modalities != target]  # an image searches recordings and v.v.
        base_rows = np.flatnonzero(corpus.modalities == target)
        collection = collections["all" if filtered else target]
        flt = Filter.by_property("modality").equal(target) if filtered else None
        times, found = [], []
        for q in qs:
            t = time.perf_counter()
            res = collection.query.near_vector(
                near_vector=q.tolist(),
                limit=K,
                filters=flt,
                return_properties=[],
                return_metadata=MetadataQuery(distance=True),
            )
            times.append(time.perf_counter() - t)
            found.append([o.uuid.int - 1 for o in res.objects])
        recalls = []
        for start in range(0, len(qs), 50):  # bounded memory: 50 x N distances at a time
            idx, _ = exact_topk(qs[start : start + 50], corpus.vectors[base_rows], K)
            for f, row in zip(found[start : start + 50], idx, strict=True):
                recalls.append(len(set(f) & set(base_rows[row].tolist())) / K)
        out[f"to_{target}"] = {
            "latency_ms": stats_ms(times),
            "recall_at_10": round(float(np.mean(recalls)), 4),
        }
    return out


def _recalls(measured: dict[str, Any]) -> str:
    return ", ".join(
        f"{t} recall@10 {measured[t]['recall_at_10']} p50 {measured[t]['latency_ms']['p50']} ms"
        for t in ("to_audio", "to_image")
        if t in measured
    )


def predicted_seconds(done: list[dict], size: int) -> float:
    """Import time of `size` objects (in each layout run) from the measured rates: the rate's trend in
    log(size) when two sizes are known, else the last rate. Never faster than the last measured
    rate (an HNSW insert only gets dearer as the graph grows), never below a quarter of it."""
    last = done[-1]
    rate = last["import_rate"]
    if len(done) >= 2:
        prev = done[-2]
        slope = (last["import_rate"] - prev["import_rate"]) / math.log(last["size"] / prev["size"])
        rate = min(rate, max(rate + slope * math.log(size / last["size"]), rate * 0.25))
    return len(last["layouts"]) * size / rate


def run_size(
    client: weaviate.WeaviateClient,
    settings: StoreSettings,
    corpus: Corpus,
    queries: Corpus,
    weaviate_pid: int,
    deadline: float,
    efs: list[int],
    layout_names: Sequence[str] = SCALE_LAYOUTS,
) -> dict[str, Any]:
    n = len(corpus.vectors)
    result: dict[str, Any] = {"size": n, "layouts": {}}
    every = {
        "filter": {"all": np.arange(n)},
        "per_modality": {m: np.flatnonzero(corpus.modalities == m) for m in ("image", "audio")},
    }
    layouts = {name: every[name] for name in layout_names}
    total_objects, total_seconds = 0, 0.0
    for layout, parts in layouts.items():
        before = memory_mb(weaviate_pid)
        collections, imports = {}, {}
        for part, rows in parts.items():
            name = f"BenchScale{layout.title().replace('_', '')}{part.title()}{n}"
            if client.collections.exists(name):
                client.collections.delete(name)
            store.create_collection(client, settings.model_copy(update={"collection": name}))
            collections[part] = client.collections.get(name)
            imports[part] = import_corpus(client, collections[part], corpus, rows, deadline)
            log(f"  scale {n:,} {layout}/{part}: {len(rows):,} in {imports[part]['seconds']:.1f} s")
        after = memory_mb(weaviate_pid)
        seconds = sum(i["seconds"] for i in imports.values())
        total_objects, total_seconds = total_objects + n, total_seconds + seconds
        entry: dict[str, Any] = {
            "import_s": round(seconds, 2),
            "import_rate": round(n / seconds, 1),
            "batch_s": round(sum(i["batch_s"] for i in imports.values()), 2),  # the client's share
            "failed": sum(i["failed"] for i in imports.values()),
            "aborted": any(i["aborted"] for i in imports.values()),
            "weaviate_memory_mb_before": before,
            "weaviate_memory_mb_after": after,
        }
        entry["index_config"] = index_config(next(iter(collections.values())))
        if not entry["aborted"]:
            entry |= query_layout(collections, layout == "filter", corpus, queries)
            log(f"  scale {n:,} {layout}: {_recalls(entry)}")  # in the log too, should a later step fail
            entry["ef_sweep"] = {}
            for ef in efs:
                hnsw = Reconfigure.VectorIndex.hnsw(ef=ef)
                for c in collections.values():  # the collections' one vector, "default"
                    c.config.update(vector_config=Reconfigure.Vectors.update(vector_index_config=hnsw))
                entry["ef_sweep"][str(ef)] = query_layout(collections, layout == "filter", corpus, queries)
                log(f"  scale {n:,} {layout} ef={ef}: {_recalls(entry['ef_sweep'][str(ef)])}")
        result["layouts"][layout] = entry
        for c in collections.values():  # free the server's memory for the next layout
            client.collections.delete(c.name)
    result["import_rate"] = round(total_objects / total_seconds, 1)
    result["aborted"] = any(e["aborted"] for e in result["layouts"].values())
    return result


def run_scale(
    client: weaviate.WeaviateClient,
    settings: StoreSettings,
    real: Corpus,
    weaviate_pid: int,
    sizes: list[int],
    budget_s: float,
    queries_per_target: int,
    efs: list[int],
    layout_names: Sequence[str] = SCALE_LAYOUTS,
    seed: int = 0,
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    noise = noise_scale(real.vectors, rng)
    # As many queries each way (image -> recordings, recording -> images), unlike the corpus.
    queries = synthesise(real, {"image": queries_per_target, "audio": queries_per_target}, noise, rng)
    out: dict[str, Any] = {"noise_norm": round(noise, 4), "budget_s_per_size": budget_s, "sizes": []}
    done: list[dict] = []
    t0 = time.perf_counter()
    for size in sorted(sizes):
        if done and (predicted := predicted_seconds(done, size)) > budget_s:
            log(f"  scale {size:,}: predicted {predicted:.0f} s > budget {budget_s:.0f} s: extrapolated")
            out["sizes"].append(extrapolate(done, size, predicted))
            continue
        corpus = synthesise(real, real_counts(real, size), noise, rng)
        deadline = time.perf_counter() + 2 * budget_s
        result = run_size(client, settings, corpus, queries, weaviate_pid, deadline, efs, layout_names)
        out["sizes"].append(result)
        if not result["aborted"]:
            done.append(result)
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def extrapolate(done: list[dict], size: int, predicted_s: float) -> dict[str, Any]:
    """On paper: memory grows linearly with size; latency with log(size) (HNSW), from the last two."""
    a, b = (done[-2], done[-1]) if len(done) >= 2 else (None, done[-1])
    out: dict[str, Any] = {"size": size, "extrapolated": True, "predicted_import_s": round(predicted_s, 1)}
    out["import_rate"] = round(2 * size / predicted_s, 1)
    layouts: dict[str, Any] = {}
    for layout, last in b["layouts"].items():
        grown = {}
        rss = last["weaviate_memory_mb_after"].get("Rss", 0.0) - last["weaviate_memory_mb_before"].get(
            "Rss", 0.0
        )
        grown["weaviate_rss_growth_mb"] = round(rss * size / b["size"], 1)
        for target in ("to_audio", "to_image"):
            if target not in last:
                continue
            p50 = last[target]["latency_ms"]["p50"]
            if a is not None and target in a["layouts"][layout]:
                slope = (p50 - a["layouts"][layout][target]["latency_ms"]["p50"]) / math.log(
                    b["size"] / a["size"]
                )
                p50 = p50 + slope * math.log(size / b["size"])
            grown[target] = {"latency_ms": {"p50": round(p50, 3)}}
        layouts[layout] = grown
    out["layouts"] = layouts
    return out
