"""The embedded server is supervised, end to end: the service holds the full
validation index (10,300 objects) on an embedded Weaviate it opened itself; the server is
SIGKILLed. While it is down every search is a 503 + Retry-After within FAIL_FAST_S and /readyz
says why; with no help from the test the service is ready again within 30 s, and every one of
the 10,300 objects is then found by a search with its own vector.

The index is the session's `full_index` (built by the indexer's pipeline), copied object by
object, vectors and all, into this test's own data folder (tests/full_set.py `copy_index`)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
import weaviate
from fastapi.testclient import TestClient
from weaviate.collections import Collection

import store
from indexer import pipeline
from indexer.settings import IndexerSettings
from models.data import load_mnist, mnist_png
from service.main import create_app
from service.search.store_gateway import FAIL_FAST_S
from tests.full_set import copy_index
from tests.service.helpers import REPO_CHECKPOINT, settings_for
from tests.weaviate_server import embedded_settings, wait_closed

COLLECTION = "SupervisedFull"
TOTAL = 10_300  # 10,000 MNIST test images + 300 FSDD validation clips
READY_AGAIN_S = 30.0  # ready again within 30 s, by itself
SAME = 1e-4  # cosine distance of an object to its own vector (identical MNIST images tie at 0)


def own_vectors(collection: Collection) -> list[tuple[str, str, list[float]]]:
    """(id, modality, stored vector) of every object, straight from the server."""
    found = []
    for obj in collection.iterator(include_vector=True, return_properties=["modality"], cache_size=1000):
        vector = obj.vector["default"] if isinstance(obj.vector, dict) else obj.vector
        found.append((str(obj.uuid), str(obj.properties["modality"]), list(vector)))
    return found


def not_found_by_own_vector(collection: Collection, objects: list[tuple[str, str, list[float]]]) -> list[str]:
    """Ids that a search with their own vector does not return first (or among the exact ties)."""

    def check(chunk: list[tuple[str, str, list[float]]]) -> list[str]:
        lost = []
        for uid, modality, vector in chunk:
            hits = store.search(collection, vector, modality, limit=5)  # type: ignore[arg-type]
            if not any(h.id == uid and h.distance < SAME for h in hits):
                lost.append(uid)
        return lost

    chunks = [objects[i : i + 500] for i in range(0, len(objects), 500)]
    with ThreadPoolExecutor(max_workers=4) as pool:  # a few queries in flight keep the server busy
        return [uid for lost in pool.map(check, chunks) for uid in lost]


@dataclass(frozen=True)
class Outcome:
    started: float
    ended: float
    status: int


class SearchLoad:
    """`clients` threads searching back to back through the TestClient until stopped."""

    def __init__(self, client: TestClient, upload: dict[str, tuple[str, bytes]], clients: int) -> None:
        self.client, self.upload = client, upload
        self.outcomes: list[Outcome] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(clients)]

    def _run(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            status = self.client.post("/search", files=self.upload).status_code
            self.outcomes.append(Outcome(started, time.monotonic(), status))

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


@pytest.mark.slow
def test_killed_weaviate_comes_back_by_itself_with_every_object_findable(
    tmp_path: Path,
    full_index: tuple[IndexerSettings, pipeline.Report],
    weaviate_client: weaviate.WeaviateClient,
) -> None:
    assert REPO_CHECKPOINT.is_file(), f"the trained checkpoint {REPO_CHECKPOINT} is missing"
    checkpoint = REPO_CHECKPOINT.resolve()
    source, report = full_index
    assert source.checkpoint == checkpoint and report.ok and report.written == TOTAL
    base = embedded_settings(tmp_path / "weaviate", collection=COLLECTION, checkpoint=checkpoint)
    t = time.monotonic()
    copied = copy_index(weaviate_client.collections.get(source.collection), base)  # stops the server after
    assert copied == TOTAL
    built_s = time.monotonic() - t
    settings = settings_for(base, checkpoint=checkpoint, device="cpu")
    assert settings.weaviate_url is None  # embedded: the service supervises it

    images, _ = load_mnist(settings.data_dir, train=False)
    upload = {"file": ("seven.png", mnist_png(images[0]))}
    with TestClient(create_app(settings)) as c:
        assert c.get("/readyz").status_code == 200
        assert c.post("/search", files=upload).status_code == 200
        assert c.get("/stats").json()["total"] == TOTAL

        # 1. SIGKILL under load: no goodbye, no flush. Searches in flight at the kill are
        #    answered within 2 x FAIL_FAST_S (a 503, or a 200 that made it); the next fails fast.
        pid = store.server_pid(settings)
        assert pid is not None
        load = SearchLoad(c, upload, clients=4)
        load.start()
        time.sleep(1.0)
        os.kill(pid, signal.SIGKILL)
        killed = time.monotonic()
        time.sleep(2 * FAIL_FAST_S)
        load.stop()
        in_flight = [o for o in load.outcomes if o.started < killed < o.ended]
        assert in_flight, "no search was in flight at the kill: the test proved nothing"
        assert {o.status for o in load.outcomes} <= {200, 503}, Counter(o.status for o in load.outcomes)
        slowest_in_flight_s = max(o.ended - killed for o in in_flight)
        slowest_s = max(o.ended - o.started for o in load.outcomes)
        assert slowest_in_flight_s < 2 * FAIL_FAST_S, slowest_in_flight_s
        assert slowest_s < 2 * FAIL_FAST_S, slowest_s  # those sent after the kill too
        sent = time.monotonic()
        r = c.post("/search", files=upload)
        first_503_s = time.monotonic() - sent
        assert r.status_code == 503 and int(r.headers["retry-after"]) > 0, r.text
        assert r.json()["error"]["code"] == "weaviate_unavailable"
        assert first_503_s < FAIL_FAST_S, first_503_s
        r = c.get("/readyz")
        assert r.status_code == 503 and r.json()["status"] == "not_ready"
        reasons = " ".join(r.json()["reasons"])
        assert "embedded Weaviate: restarting" in reasons or "refuses connections" in reasons, reasons

        # 2. Nobody helps: the supervisor restarts the server, checks its vector index, and the
        #    service is ready again. Meanwhile every search is answered: a 503 + Retry-After
        #    within FAIL_FAST_S (never a hang), or a 200 once the store is back.
        slowest_503_s, outage_reasons = 0.0, set()
        while True:
            assert time.monotonic() - killed < READY_AGAIN_S, "not ready again within 30 s"
            start = time.monotonic()
            r = c.post("/search", files=upload)
            took = time.monotonic() - start
            if r.status_code == 503:
                assert int(r.headers["retry-after"]) > 0 and took < FAIL_FAST_S, (took, r.text)
                slowest_503_s = max(slowest_503_s, took)
            else:
                assert r.status_code == 200, r.text
            ready = c.get("/readyz")
            if ready.status_code == 200:
                break
            outage_reasons.update(ready.json()["reasons"])
            time.sleep(0.1)
        ready_s = time.monotonic() - killed
        assert c.post("/search", files=upload).status_code == 200
        status = store.supervisor_status(settings)
        assert status is not None and status.up and status.restarts == 1
        assert store.server_pid(settings) not in (None, pid)
        check = status.checks[COLLECTION]  # the vector-index check after the unclean stop
        assert check.objects == TOTAL and check.ok, check.problems()

        # 3. Every object is there and findable by its own vector.
        verifier = store.connect(settings)
        try:
            collection = verifier.collections.get(COLLECTION)
            t = time.monotonic()
            objects = own_vectors(collection)
            assert len(objects) == len({uid for uid, _, _ in objects}) == TOTAL
            lost = not_found_by_own_vector(collection, objects)
            verify_s = time.monotonic() - t
            assert lost == [], f"{len(lost)} of {TOTAL} objects not found by their own vector: {lost[:5]}"
        finally:
            verifier.close()
        stats = c.get("/stats")
        assert stats.status_code == 200 and stats.json()["total"] == TOTAL
        print(
            f"\nindex copied in {built_s:.0f}s; SIGKILL under load: {len(in_flight)} searches in flight "
            f"answered within {slowest_in_flight_s * 1000:.0f} ms of the kill "
            f"({dict(Counter(o.status for o in in_flight))}), slowest of {len(load.outcomes)} under load "
            f"{slowest_s * 1000:.0f} ms ({dict(Counter(o.status for o in load.outcomes))}); "
            f"next search 503 in {first_503_s * 1000:.0f} ms "
            f"(slowest 503 during the outage {slowest_503_s * 1000:.0f} ms); /readyz reasons seen "
            f"{sorted(outage_reasons)}; ready again {ready_s:.1f}s after the kill "
            f"(vector-index check {check.seconds:.2f}s, {len(check.missing)} missing); "
            f"{TOTAL} objects each found by its own vector in {verify_s:.1f}s"
        )
    assert wait_closed(settings.weaviate_port)
