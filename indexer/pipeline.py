"""reader -> embed -> writer: fills the Weaviate collection with the validation sets.

* reader (indexer.records): MNIST test images (as the PNG bytes the index stores and
  serves) and FSDD validation recordings (the original WAV bytes), one `Record` each.
* embed: `models.preprocess.prepare` on those bytes, i.e. exactly what an upload goes
  through, then `LoadedEncoders.embed` in batches.
* writer: `collection.data.insert_many` (Weaviate's batch endpoint), one call per batch, so
  every failed object is known and reported.

Users' own items (store.user_items) are kept: RECREATE drops only this collection, and every
run ends by copying them back from their own collection (indexer.user_items_sync), re-embedded
when the model version changed.

Idempotent and resumable: object ids are uuid5("source/split/name"); records already stored
with the current model version are skipped before any work is done, and everything else
(missing, or written by another checkpoint) is (re)written in place. A run killed at any point
leaves complete batches behind and the next run finishes the rest.
"""

from __future__ import annotations

import base64
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import weaviate
from tqdm import tqdm
from weaviate.classes.data import DataObject
from weaviate.collections import Collection
from weaviate.exceptions import WeaviateBaseError

import store
from indexer import records as reader
from indexer.records import Record
from indexer.settings import SOURCES, IndexerSettings
from indexer.user_items_sync import UserItemsSync, sync_user_items
from store.user_items import USER_SOURCE

if TYPE_CHECKING:
    from models.runtime import Encoders

# One object as collection.data.insert_many takes it.
ObjectToWrite = DataObject[Mapping[str, Any], None]


# ---------------------------------------------------------------- run


@dataclass
class Report:
    model_version: str = ""
    total: int = 0  # records the run covered
    skipped: int = 0  # already stored with this model version
    written: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)  # (key, reason)
    seconds: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    problems: list[str] = field(default_factory=list)  # end-check failures
    user_items: UserItemsSync = field(default_factory=UserItemsSync)  # users' own items, kept in step

    @property
    def ok(self) -> bool:
        return not self.failures and not self.problems

    def rate(self, step: str, n: int) -> float:
        return n / self.seconds[step] if self.seconds[step] > 0 else float("nan")


def stored_versions(collection: Collection) -> dict[str, str]:
    """uuid -> model_version of every stored object (cursor over ids + one short property)."""
    return {
        str(o.uuid): str(o.properties.get("model_version", ""))
        for o in collection.iterator(return_properties=["model_version"], cache_size=2000)
    }


def run(settings: IndexerSettings, *, progress: bool = True) -> Report:
    from models.runtime import load_encoders

    report = Report()
    t0 = time.perf_counter()
    encoders = load_encoders(settings.checkpoint, settings.device, settings.encoder_runtime)
    report.model_version = encoders.model_version
    records = reader.read(settings.sources, settings.data_dir, settings.index_limit)
    report.total = len(records)
    report.seconds["read"] = time.perf_counter() - t0  # checkpoint + data sets (+ PNG encoding)

    client = store.connect(settings, supervised=True)  # restarts the embedded server if it dies
    try:
        if settings.recreate and client.collections.exists(settings.collection):
            client.collections.delete(settings.collection)
        collection = store.ensure_collection(client, settings)
        t = time.perf_counter()
        existing = stored_versions(collection)
        todo = [r for r in records if existing.get(r.uuid) != encoders.model_version]
        report.skipped = len(records) - len(todo)
        report.seconds["scan"] = time.perf_counter() - t

        bar = tqdm(total=len(todo), desc="indexing", unit="obj", disable=not progress, file=sys.stderr)
        # The server inserts batch n (its own process, HNSW work) while we embed batch n+1;
        # at most one insert is in flight, so a killed run loses at most two batches of work.
        with ThreadPoolExecutor(max_workers=1) as writer:
            pending: Future[None] | None = None
            for batch in _batches(todo, settings.batch_size):
                objects = embed_batch(encoders, batch, report)
                if pending is not None:
                    pending.result()
                pending = writer.submit(write_batch, collection, objects, report)
                bar.update(len(batch))
            if pending is not None:
                pending.result()
        bar.close()

        # Users' items: never dropped (their records have a collection of their own), copied
        # back after a RECREATE, re-embedded from their media when the model changed.
        t = time.perf_counter()
        report.user_items = sync_user_items(client, collection, settings, encoders)
        report.failures += [(f"user/{uid}", reason) for uid, reason in report.user_items.failures]
        report.seconds["user_items"] = time.perf_counter() - t

        t = time.perf_counter()
        report.problems = check(
            client, collection, records, settings, encoders.model_version, report.user_items.records
        )
        report.seconds["check"] = time.perf_counter() - t
    finally:
        client.close()
    report.seconds["total"] = time.perf_counter() - t0
    return report


def _batches(records: Sequence[Record], size: int) -> Iterator[list[Record]]:
    # One modality per batch: the encoders embed one modality at a time.
    for modality in ("image", "audio"):
        group = [r for r in records if r.modality == modality]
        for start in range(0, len(group), size):
            yield group[start : start + size]


def embed_batch(
    encoders: Encoders, batch: Sequence[Record], report: Report
) -> list[tuple[Record, ObjectToWrite]]:
    """prepare (the upload path) + embed; returns the objects to write, records media failures."""
    from models.media_errors import MediaError
    from models.preprocess import prepare

    t = time.perf_counter()
    tensors, ok = [], []
    for record in batch:
        try:
            tensors.append(prepare(record.media, encoders.config).tensor)
            ok.append(record)
        except MediaError as exc:
            report.failures.append((record.key, f"{exc.code}: {exc.message}"))
    report.seconds["prepare"] += time.perf_counter() - t
    if not ok:
        return []

    t = time.perf_counter()
    vectors = encoders.embed(ok[0].modality, np.stack(tensors))
    report.seconds["embed"] += time.perf_counter() - t

    return [
        (
            r,
            ObjectToWrite(
                uuid=r.uuid,
                vector=v.tolist(),
                properties={
                    "modality": r.modality,
                    "label": r.label,
                    "source": r.source,
                    "split": r.split,
                    "name": r.name,
                    "speaker": r.speaker,
                    "media": base64.b64encode(r.media).decode("ascii"),  # blobs travel base64-encoded
                    "model_version": encoders.model_version,
                },
            ),
        )
        for r, v in zip(ok, vectors, strict=True)
    ]


def write_batch(
    collection: Collection, objects: Sequence[tuple[Record, ObjectToWrite]], report: Report
) -> None:
    """One batch request; every object it rejects is recorded as a failure."""
    if not objects:
        return
    t = time.perf_counter()
    try:
        result = collection.data.insert_many([o for _, o in objects])
        errors = {i: e.message for i, e in result.errors.items()}
    except WeaviateBaseError as exc:  # the whole batch failed (timeout, server gone)
        errors = dict.fromkeys(range(len(objects)), str(exc))
    report.seconds["import"] += time.perf_counter() - t
    for i, message in sorted(errors.items()):
        report.failures.append((objects[i][0].key, message))
    report.written += len(objects) - len(errors)


# ---------------------------------------------------------------- end checks

COUNT_SETTLE_S = 15.0  # how long counts may take to agree across replicas


def check(
    client: weaviate.WeaviateClient,
    collection: Collection,
    records: Sequence[Record],
    settings: IndexerSettings,
    version: str,
    user_items: int = 0,
) -> list[str]:
    """Counts per modality and label match the data, the index is current and holds every
    object's vector, and sampled items find themselves first."""
    expected: dict[str, Counter[int]] = defaultdict(Counter)
    for r in records:
        expected[r.modality][r.label] += 1
    full = settings.index_limit is None  # with --limit the index may legitimately hold more

    def count_problems() -> list[str]:
        actual = store.counts(collection, exclude_source=USER_SOURCE)  # the data sets' own
        found = []
        for modality, labels in expected.items():
            for label, n in sorted(labels.items()):
                got = actual.get(modality, {}).get(label, 0)
                if got < n or (full and got != n):
                    found.append(f"{modality} label {label}: {got} objects in the index, expected {n}")
        return found

    # Aggregations read one replica per shard and take no consistency level: on a replicated
    # cluster a replica that was not in the write quorum can lag for a moment. Re-read for
    # a bounded time; a single node matches at once.
    deadline = time.monotonic() + COUNT_SETTLE_S
    problems = count_problems()
    while problems and time.monotonic() < deadline:
        time.sleep(0.5)
        problems = count_problems()

    # With --limit or a subset of sources, objects of another checkpoint may legitimately
    # remain; a full run must leave an index that `store.index_problems` calls current.
    if full and set(settings.sources) == set(SOURCES):
        problems += store.index_problems(client, collection.name, version)

    # Every object in the vector index, not only in the object store (a crashed server can
    # lose the tail of the vector index); what is missing is re-indexed here, under the same
    # repair lock the supervisor takes, so two repairs never interleave.
    problems += store.ensure_vector_index(client, collection.name, settings).problems()

    for r in random.Random(0).sample(list(records), min(20, len(records))):
        vector = store.get_vector(collection, r.uuid)
        if vector is None:
            problems.append(f"{r.key} is missing from the index")
            continue
        # users' items are left out: a user may have added copies of a data set's image (as many
        # as ten, one per label), which tie with it at distance 0
        wider = min(3 + user_items, 9_000)
        hits = [
            h for h in store.search(collection, vector, r.modality, limit=wider) if h.source != USER_SOURCE
        ][:3]
        # Exact duplicates (MNIST has a few) tie at distance 0, so "itself among the zero-distance hits".
        if not any(h.id == r.uuid and h.distance < 1e-4 for h in hits):
            problems.append(
                f"{r.key} is not its own nearest neighbour: {[(h.name, h.distance) for h in hits]}"
            )
    return problems
