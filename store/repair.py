"""Re-index objects the vector index lacks, so that no crash and no second repairer can lose one.

The repair never deletes and never writes what it did not read back first. A re-put of
identical data is a no-op in Weaviate (it keeps the object's docID and never touches the
vector index), so each missing object is put twice under its own uuid with its own
properties: first with its vector moved by one float32 ulp (a changed vector gets a new docID
and is indexed), then with its exact vector again. The object exists, findable by its own
vector, at every moment. Its original vector is in a journal (fsynced) before the first put;
a repair killed between the two puts leaves the journal behind and the next repair puts
those originals back. One check-and-repair per collection at a time, across processes:
`repair_lock`, an flock that every repairer (the indexer's end check, the supervisor) takes.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from weaviate.classes.data import DataObject
from weaviate.classes.query import Filter
from weaviate.collections import Collection

from store.errors import StoreUnavailable
from store.settings import StoreSettings

log = logging.getLogger("store")

CHUNK = 1000  # ids per membership query (Weaviate returns at most QUERY_MAXIMUM_RESULTS = 10,000)
PUT_CHUNK = 256  # objects per repair write and journal (each carries its media)
LOCK_WAIT_S = 300.0  # how long a repairer waits for another one's check and repair


class RepairBusy(StoreUnavailable):
    """Another thread or process is checking or repairing this collection's vector index."""


def chunks(ids: Iterator[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for uid in ids:
        chunk.append(uid)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def vector_of(obj: Any) -> list[float]:
    vector = obj.vector["default"] if isinstance(obj.vector, dict) else obj.vector
    return [float(x) for x in vector]


def _canonical(collection: str) -> str:
    return collection[:1].upper() + collection[1:]  # Weaviate capitalises class names


def repair_dir(settings: StoreSettings) -> Path:
    """Where the repair locks and journals of this Weaviate live: next to the embedded server's
    data, or (WEAVIATE_URL) in the cache folder, keyed on the server (same machine only)."""
    if settings.weaviate_url is None:
        return settings.weaviate_data_dir.expanduser().resolve() / ".vector-repair"
    server = f"{settings.weaviate_url}|{settings.weaviate_grpc_port}"
    return settings.cache_dir / "vector-repair" / hashlib.sha256(server.encode()).hexdigest()[:16]


@contextmanager
def repair_lock(settings: StoreSettings, collection: str, wait_s: float = LOCK_WAIT_S) -> Iterator[Path]:
    """Hold the one check-and-repair lock of `collection` (an flock: across processes and
    threads, released by the kernel when its holder dies); yields the journal's path.
    RepairBusy when another holder keeps it longer than wait_s (0: do not wait)."""
    folder = repair_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    name = _canonical(collection)
    deadline = time.monotonic() + wait_s
    with open(folder / f"{name}.lock", "a") as fh:
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RepairBusy(f"the vector index of {name} is being checked elsewhere") from None
                time.sleep(0.1)
        try:
            yield folder / f"{name}.journal"
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _write_journal(path: Path, vectors: dict[str, list[float]]) -> None:
    """All or nothing, on disk before the first write it covers."""
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as fh:
        json.dump({"vectors": vectors}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _nudged(vector: Sequence[float]) -> list[float]:
    """The vector with its first component moved by one float32 ulp: a change to Weaviate."""
    first = np.float32(vector[0])
    return [float(np.nextafter(first, np.float32(np.inf))), *vector[1:]]


def _same(a: Sequence[float], b: Sequence[float]) -> bool:
    return bool(np.array_equal(np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)))


def _read(collection: Collection, ids: Sequence[str]) -> list[Any]:
    """The objects (every property and the vector) of `ids` that still exist, in one query."""
    # Named: by default Weaviate leaves blob properties (our media) out, and an object put
    # back without them would have lost them.
    names = [p.name for p in collection.config.get().properties]
    res = collection.query.fetch_objects(
        filters=Filter.by_id().contains_any(list(ids)),
        include_vector=True,
        return_properties=names,
        limit=len(ids),
    )
    return list(res.objects)


def _put(collection: Collection, objects: Sequence[tuple[Any, list[float]]]) -> None:
    """Upsert (stored object, vector) pairs under their own uuid and properties."""
    if not objects:
        return
    result = collection.data.insert_many(
        [DataObject(uuid=o.uuid, properties=o.properties, vector=v) for o, v in objects]
    )
    if result.errors:
        raise StoreUnavailable(f"re-indexing {len(result.errors)} objects failed: {result.errors}")


def replay(collection: Collection, journal: Path) -> int:
    """Finish a repair that was killed between its two writes: put the journal's exact vectors
    back where the first write's nudged vector still stands (nothing else wrote there since)."""
    if not journal.exists():
        return 0
    try:
        originals: dict[str, list[float]] = json.loads(journal.read_text())["vectors"]
    except (ValueError, KeyError, TypeError) as exc:  # only written by rename: not ours
        log.error("ignoring the unreadable vector-repair journal %s: %s", journal, exc)
        journal.replace(journal.with_suffix(".unreadable"))
        return 0
    back = []
    for chunk in chunks(iter(originals), PUT_CHUNK):
        for obj in _read(collection, chunk):
            vector = originals[str(obj.uuid)]
            if _same(vector_of(obj), _nudged(vector)):
                back.append((obj, vector))
    _put(collection, back)
    journal.unlink()
    if back:
        log.warning("put back the exact vectors of %d objects after an interrupted repair", len(back))
    return len(back)


def reindex(collection: Collection, ids: Sequence[str], journal: Path) -> None:
    for chunk in chunks(iter(ids), PUT_CHUNK):
        stored = _read(collection, chunk)  # gone meanwhile: nothing to repair, nothing is written
        if not stored:
            continue
        vectors = [vector_of(o) for o in stored]
        _write_journal(journal, {str(o.uuid): v for o, v in zip(stored, vectors, strict=True)})
        _put(collection, [(o, _nudged(v)) for o, v in zip(stored, vectors, strict=True)])
        _put(collection, list(zip(stored, vectors, strict=True)))
        journal.unlink()
