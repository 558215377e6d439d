"""The indexer SIGKILLed at random points, several runs: each following run completes with
exactly the expected objects, each findable by its own vector, no duplicates, none stale."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import weaviate
from weaviate.classes.query import Filter
from weaviate.collections import Collection

import store
from indexer import pipeline
from models.runtime import file_version
from tests.conftest import make_checkpoint
from tests.indexer.test_indexer_run import indexer_settings, total
from tests.weaviate_server import env_for

LIMIT = 150  # per source: 150 MNIST images + 150 FSDD clips
EXPECTED = 2 * LIMIT
ROUNDS = 3


def written_with(collection: Collection, version: str) -> int:
    result = collection.aggregate.over_all(
        filters=Filter.by_property("model_version").equal(version), total_count=True
    )
    return int(result.total_count or 0)


def assert_complete(
    client: weaviate.WeaviateClient, collection: Collection, version: str, settings: store.StoreSettings
) -> None:
    ids = [str(o.uuid) for o in collection.iterator(return_properties=[])]
    assert len(ids) == len(set(ids)) == EXPECTED  # exactly the expected objects, no duplicates
    assert store.model_versions(collection) == {version: EXPECTED}  # nothing of a stale version
    check = store.ensure_vector_index(client, collection.name, settings)
    assert check.objects == EXPECTED and check.missing == []
    for obj in collection.iterator(include_vector=True, return_properties=["modality"]):
        vector = obj.vector["default"] if isinstance(obj.vector, dict) else obj.vector
        hits = store.search(collection, vector, str(obj.properties["modality"]), limit=3)
        # Identical media (MNIST has a few) tie at distance 0: itself among the zero-distance hits.
        assert any(h.id == str(obj.uuid) and h.distance < 1e-4 for h in hits), obj.uuid


def settled(read: Callable[[], int]) -> int:
    """read() once it gives the same value twice, 0.3 s apart."""
    before, now = -1, read()
    while now != before:
        time.sleep(0.3)
        before, now = now, read()
    return now


@pytest.mark.slow
def test_indexer_killed_at_random_points(
    weaviate_settings: store.StoreSettings, weaviate_client: weaviate.WeaviateClient, tmp_path: Path
) -> None:
    # Two model versions, alternating: each killed run was replacing the other one's objects.
    checkpoints = [make_checkpoint(tmp_path / f"m{seed}.pt", seed=seed) for seed in (21, 22)]
    base = indexer_settings(weaviate_settings, "IdxKilled", checkpoints[1])
    assert pipeline.run(base.model_copy(update={"index_limit": LIMIT, "recreate": True}), progress=False).ok
    collection = weaviate_client.collections.get("IdxKilled")
    rng = random.Random(9)
    for round_ in range(ROUNDS):
        checkpoint = checkpoints[round_ % 2]
        version = file_version(checkpoint)
        settings = base.model_copy(update={"checkpoint": checkpoint})
        # A random point: after a random number of objects of the new version were written,
        # plus a random moment (the next batch may be in flight, or the end check running).
        kill_at, extra_s = rng.randrange(0, EXPECTED), rng.uniform(0.0, 0.5)
        proc = subprocess.Popen(
            [sys.executable, "-m", "indexer", "--limit", str(LIMIT), "--batch-size", "32"],
            env=env_for(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 120
        while proc.poll() is None and written_with(collection, version) <= kill_at:
            assert time.monotonic() < deadline, "the indexer made no progress"
            time.sleep(0.02)
        time.sleep(extra_s)
        killed = proc.poll() is None
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        at_kill = settled(lambda v=version: written_with(collection, v))  # a batch may still land
        print(f"\nround {round_}: killed={killed} after {at_kill}/{EXPECTED} new objects")

        # The following run (in this process: the same code as `python -m indexer`, no start-up).
        rerun = pipeline.run(settings.model_copy(update={"index_limit": LIMIT}), progress=False)
        assert rerun.ok, (rerun.failures[:5], rerun.problems)
        assert (rerun.total, rerun.written, rerun.skipped) == (EXPECTED, EXPECTED - at_kill, at_kill)
        assert total(collection) == EXPECTED
        assert_complete(weaviate_client, collection, version, settings)
