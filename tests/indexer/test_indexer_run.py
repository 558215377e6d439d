"""The indexer end to end against a real Weaviate: full run, re-run, resume after SIGKILL, versions."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import weaviate
from weaviate.classes.data import DataObject

import store
from indexer import pipeline
from indexer.records import Record
from indexer.settings import IndexerSettings
from models.data import fsdd_items, load_mnist, mnist_png
from tests.conftest import make_checkpoint
from tests.weaviate_server import DATA_DIR, env_for, free_port

REPO_CHECKPOINT = Path("models/checkpoints/digitbridge.pt")
N_MNIST, N_FSDD = 10_000, 300


@pytest.fixture(scope="module")
def checkpoint(plumbing_checkpoint: Path) -> Path:
    # Indexing mechanics do not depend on training; prefer the committed model when it exists.
    return plumbing_checkpoint


def indexer_settings(
    base: store.StoreSettings, collection: str, checkpoint: Path, **kw: object
) -> IndexerSettings:
    return IndexerSettings(**{**base.model_dump(), "collection": collection, "checkpoint": checkpoint, **kw})


def run_cli(settings: IndexerSettings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "indexer", *args],
        env=env_for(settings, **env),
        capture_output=True,
        text=True,
        timeout=300,
    )


def total(collection: weaviate.collections.Collection) -> int:
    return int(collection.aggregate.over_all(total_count=True).total_count or 0)


def expected_counts() -> dict[str, dict[int, int]]:
    _, labels = load_mnist(DATA_DIR, train=False)
    audio = Counter(item.label for item in fsdd_items(DATA_DIR, "validation"))
    return {
        "image": {int(k): int(v) for k, v in enumerate(np.bincount(labels))},
        "audio": dict(sorted(audio.items())),
    }


# ---------------------------------------------------------------- the full index


# `full_index` (tests/conftest.py): the session's full run, once for all the tests below.


@pytest.mark.slow
def test_full_run_indexes_everything(
    full_index: tuple[IndexerSettings, pipeline.Report], weaviate_client: weaviate.WeaviateClient
) -> None:
    settings, report = full_index
    assert report.ok, (report.failures[:5], report.problems)
    assert (report.total, report.written, report.skipped) == (N_MNIST + N_FSDD, N_MNIST + N_FSDD, 0)
    collection = weaviate_client.collections.get(settings.collection)
    assert store.counts(collection) == expected_counts()
    assert store.model_versions(collection) == {report.model_version: N_MNIST + N_FSDD}
    n = report.written
    rates = ", ".join(f"{step} {report.rate(step, n):.0f}/s" for step in ("prepare", "embed", "import"))
    print(f"\nfull index: {n} objects in {report.seconds['total']:.1f}s; {rates}")


@pytest.mark.slow
def test_second_run_changes_nothing(
    full_index: tuple[IndexerSettings, pipeline.Report], weaviate_client: weaviate.WeaviateClient
) -> None:
    settings, first = full_index
    again = pipeline.run(settings.model_copy(update={"recreate": False}), progress=False)
    assert again.ok, (again.failures[:5], again.problems)
    assert (again.written, again.skipped) == (0, N_MNIST + N_FSDD)
    collection = weaviate_client.collections.get(settings.collection)
    assert total(collection) == N_MNIST + N_FSDD
    assert store.counts(collection) == expected_counts()


@pytest.mark.slow
@pytest.mark.parametrize(("query_source", "target"), [("mnist", "audio"), ("fsdd", "image")])
def test_near_vector_filtered_to_the_other_modality(
    full_index: tuple[IndexerSettings, pipeline.Report],
    weaviate_client: weaviate.WeaviateClient,
    query_source: str,
    target: str,
) -> None:
    settings, _ = full_index
    collection = weaviate_client.collections.get(settings.collection)
    split, name = ("test", "7") if query_source == "mnist" else ("validation", "7_jackson_0.wav")
    vector = store.get_vector(collection, store.object_uuid(query_source, split, name))
    assert vector is not None
    hits = store.search(collection, vector, target, limit=50)  # type: ignore[arg-type]
    assert len(hits) == 50
    assert {h.modality for h in hits} == {target}
    assert {h.source for h in hits} == {"fsdd" if target == "audio" else "mnist"}


@pytest.mark.slow
def test_media_round_trips_byte_for_byte(
    full_index: tuple[IndexerSettings, pipeline.Report], weaviate_client: weaviate.WeaviateClient
) -> None:
    settings, _ = full_index
    collection = weaviate_client.collections.get(settings.collection)
    images, _ = load_mnist(DATA_DIR, train=False)
    for i in (0, 4321, 9999):
        assert store.get_media(collection, store.object_uuid("mnist", "test", str(i))) == mnist_png(images[i])
    for item in fsdd_items(DATA_DIR, "validation")[::97]:
        stored = store.get_media(collection, store.object_uuid("fsdd", "validation", item.name))
        assert stored == item.path.read_bytes()
        meta = store.get_item(collection, store.object_uuid("fsdd", "validation", item.name))
        assert meta is not None and (meta.label, meta.speaker, meta.name) == (
            item.label,
            item.speaker,
            item.name,
        )


# ---------------------------------------------------------------- resume, versions, failures


@pytest.mark.slow
def test_resume_after_the_process_is_killed(
    weaviate_settings: store.StoreSettings, weaviate_client: weaviate.WeaviateClient, checkpoint: Path
) -> None:
    settings = indexer_settings(weaviate_settings, "IdxResume", checkpoint)
    if weaviate_client.collections.exists(settings.collection):
        weaviate_client.collections.delete(settings.collection)
    limit, expected = 1500, 1500 + N_FSDD
    proc = subprocess.Popen(
        [sys.executable, "-m", "indexer", "--limit", str(limit), "--batch-size", "64"],
        env=env_for(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    collection = weaviate_client.collections.get(settings.collection)
    deadline = time.monotonic() + 120
    written = 0
    while time.monotonic() < deadline and proc.poll() is None:
        if weaviate_client.collections.exists(settings.collection):
            # the schema entry comes a moment before the shard: count only once it exists
            store.wait_for_replicas(weaviate_client, settings.collection, 1)
            written = total(collection)
            if written >= 256:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "the indexer finished before it could be interrupted"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    interrupted = total(collection)
    assert 256 <= interrupted < expected

    rerun = run_cli(settings, "--limit", str(limit), "--batch-size", "64")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert (
        f"{expected} items, {expected - interrupted} written, {interrupted} already indexed, 0 failed"
        in rerun.stdout
    )
    assert total(collection) == expected
    ids = [str(o.uuid) for o in collection.iterator(return_properties=[])]
    assert len(ids) == len(set(ids)) == expected  # no duplicates
    assert store.counts(collection)["audio"] == expected_counts()["audio"]


def test_another_model_version_is_detected_and_replaced(
    weaviate_settings: store.StoreSettings, weaviate_client: weaviate.WeaviateClient, tmp_path: Path
) -> None:
    old = make_checkpoint(tmp_path / "old.pt", seed=1)
    new = make_checkpoint(tmp_path / "new.pt", seed=2)
    first = pipeline.run(
        indexer_settings(weaviate_settings, "IdxVersion", old, index_limit=40, recreate=True), progress=False
    )
    assert first.ok and first.written == 80
    collection = weaviate_client.collections.get("IdxVersion")

    from models.runtime import file_version

    assert first.model_version == file_version(old) != file_version(new)
    # What the service checks: the index holds a version other than the loaded checkpoint's.
    assert store.model_versions(collection) == {file_version(old): 80}
    assert file_version(new) not in store.model_versions(collection)

    second = pipeline.run(
        indexer_settings(weaviate_settings, "IdxVersion", new, index_limit=40), progress=False
    )
    assert second.ok, (second.failures, second.problems)
    assert (second.written, second.skipped) == (80, 0)  # every stale object rewritten in place
    assert store.model_versions(collection) == {file_version(new): 80}
    assert total(collection) == 80


def test_failed_objects_are_reported(
    weaviate_settings: store.StoreSettings, weaviate_client: weaviate.WeaviateClient, checkpoint: Path
) -> None:
    from models.runtime import load_encoders

    settings = indexer_settings(weaviate_settings, "IdxFailures", checkpoint, recreate=True)
    if weaviate_client.collections.exists(settings.collection):
        weaviate_client.collections.delete(settings.collection)
    collection = store.ensure_collection(weaviate_client, settings)
    report = pipeline.Report()
    broken = Record("fsdd", "validation", "broken.wav", 3, "audio", b"RIFF\x00\x00\x00\x00WAVEjunk")
    good = Record(
        "fsdd", "validation", "0_x_0.wav", 0, "audio", fsdd_items(DATA_DIR, "validation")[0].path.read_bytes()
    )
    objects = pipeline.embed_batch(load_encoders(checkpoint, "cpu"), [broken, good], report)
    assert [r.key for r, _ in objects] == [good.key]
    assert [key for key, _ in report.failures] == [broken.key]

    pipeline.write_batch(collection, objects, report)
    assert report.written == 1
    # The server rejects an object whose vector does not fit the index (128-d): reported by key.
    wrong_dim = Record("mnist", "test", "x", 1, "image", b"")
    bad_object = DataObject(
        uuid=wrong_dim.uuid, vector=[0.5, 0.5, 0.5], properties={"modality": "image", "label": 1}
    )
    pipeline.write_batch(collection, [(wrong_dim, bad_object)], report)
    assert [key for key, _ in report.failures] == [broken.key, wrong_dim.key]
    assert report.written == 1 and not report.ok
    stored = store.get_media(collection, good.uuid)
    assert stored == good.media  # the original WAV bytes came back


@pytest.mark.slow
def test_cli_limit_and_sources(
    weaviate_settings: store.StoreSettings, weaviate_client: weaviate.WeaviateClient, checkpoint: Path
) -> None:
    settings = indexer_settings(weaviate_settings, "IdxCli", checkpoint)
    done = run_cli(settings, "--recreate", "--limit", "30", "--sources", "fsdd", "--batch-size", "16")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "30 items, 30 written" in done.stdout and "checks passed" in done.stdout
    assert store.counts(weaviate_client.collections.get("IdxCli")) == {
        "audio": {0: 30}
    }  # sorted: the 0_* files first
    bad = run_cli(settings, "--sources", "mnist,cifar")
    assert bad.returncode == 2 and "mnist,fsdd" in bad.stderr


def test_cli_unreachable_server_fails_fast_with_a_clear_message(
    weaviate_settings: store.StoreSettings, checkpoint: Path
) -> None:
    settings = indexer_settings(weaviate_settings, "IdxNowhere", checkpoint)
    start = time.monotonic()
    done = run_cli(
        settings, "--limit", "5", WEAVIATE_URL=f"http://127.0.0.1:{free_port()}", WEAVIATE_TIMEOUT_S="2"
    )
    assert done.returncode == 2
    assert "WEAVIATE_URL" in done.stderr and "unavailable" in done.stderr
    assert time.monotonic() - start < 60


@pytest.mark.slow
@pytest.mark.parametrize("target", ["audio", None])
def test_search_is_exact_brute_force_order(
    full_index: tuple[IndexerSettings, pipeline.Report],
    weaviate_client: weaviate.WeaviateClient,
    target: str | None,
) -> None:
    settings, _ = full_index
    collection = weaviate_client.collections.get(settings.collection)
    objects = list(collection.iterator(include_vector=True, return_properties=["modality"]))
    if target:
        objects = [o for o in objects if o.properties["modality"] == target]
    ids = np.array([str(o.uuid) for o in objects])
    matrix = np.array([o.vector["default"] for o in objects], dtype=np.float64)
    query = store.get_vector(collection, store.object_uuid("mnist", "test", "11"))
    assert query is not None
    distances = 1 - matrix @ np.asarray(query) / np.linalg.norm(matrix, axis=1) / np.linalg.norm(query)
    expected = ids[np.argsort(distances, kind="stable")[:30]]
    pages = [h for off in (0, 10, 20) for h in store.search(collection, query, target, limit=10, offset=off)]  # type: ignore[arg-type]
    got = [h.id for h in pages]
    # identical up to exact ties in distance, which the store orders by id
    assert sorted(got) == sorted(expected.tolist()) or np.allclose(
        sorted(distances[np.isin(ids, got)]), sorted(distances[np.isin(ids, expected)]), atol=1e-6
    )
    assert [h.distance for h in pages] == sorted(h.distance for h in pages)
