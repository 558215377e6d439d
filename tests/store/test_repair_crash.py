"""A vector-index repair cannot lose data: not when it is SIGKILLed between its writes, not when
two repairers meet. Real loss first (tests.store.lost_vectors), then a repair in another
process that stops for good right after its first acknowledged write and is SIGKILLed there."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from weaviate.collections import Collection

import store
from tests.store.lost_vectors import short_index
from tests.weaviate_server import ROOT

N = 3000
COLLECTION = "RepairKill"


def stored(collection: Collection) -> dict[str, tuple[dict[str, Any], np.ndarray]]:
    """uuid -> (every property, media included, and the stored vector as float32)."""
    props = ["modality", "label", "source", "split", "name", "media", "model_version"]
    out = {}
    for obj in collection.iterator(include_vector=True, return_properties=props, cache_size=500):
        vector = obj.vector["default"] if isinstance(obj.vector, dict) else obj.vector
        media = obj.properties["media"]
        properties = {**obj.properties, "media": media if isinstance(media, str) else base64.b64encode(media)}
        out[str(obj.uuid)] = (properties, np.asarray(vector, dtype=np.float32))
    return out


def env_for_child(settings: store.StoreSettings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEAVIATE_")}
    assert settings.weaviate_api_key is not None
    env.update(
        WEAVIATE_URL=str(settings.weaviate_url),
        WEAVIATE_GRPC_PORT=str(settings.weaviate_grpc_port),
        WEAVIATE_API_KEY=settings.weaviate_api_key.get_secret_value(),
        COLLECTION=settings.collection,
        DIGITBRIDGE_CACHE=str(settings.cache_dir),
        PYTHONPATH=str(ROOT),
    )
    return env


@pytest.mark.slow
def test_a_repair_killed_after_its_first_write_loses_nothing(tmp_path: Path) -> None:
    with short_index(tmp_path, COLLECTION, N) as lost:
        settings = lost.settings
        client = store.connect(settings)
        try:
            collection = client.collections.get(COLLECTION)
            before = stored(collection)
            assert len(before) == N
            _, missing = store.vector_index_shortfall(client, COLLECTION)
            assert 0 < len(missing) < N, "the cut commit log lost no vector"

            # 1. A repair in another process, paused right after its first acknowledged write.
            pause = tmp_path / "paused"
            child = subprocess.Popen(
                [sys.executable, "-m", "tests.store.repair_child", str(pause)],
                env=env_for_child(settings),
                cwd=ROOT,
            )
            try:
                deadline = time.monotonic() + 120
                while not pause.exists():
                    assert child.poll() is None, "the repair exited before its first write"
                    assert time.monotonic() < deadline, "the repair wrote nothing within 120 s"
                    time.sleep(0.05)

                # Nothing is gone at that moment: every object, its properties, its vector
                # (or that vector moved by one float32 ulp).
                during = stored(collection)
                assert sorted(during) == sorted(before), f"{len(set(before) - set(during))} objects gone"
                moved = 0
                for uid, (properties, vector) in before.items():
                    assert during[uid][0] == properties, uid
                    difference = np.abs(during[uid][1] - vector)
                    assert difference.max() <= np.spacing(np.abs(vector)).max(), uid
                    moved += int(difference.max() > 0)
                assert moved > 0

                # 2. The repair lock is held across processes: a second repairer does not
                #    interleave; it fails at once (wait_s=0) or waits for the first one.
                with pytest.raises(store.RepairBusy):
                    store.ensure_vector_index(client, COLLECTION, settings, wait_s=0)
                result: list[store.VectorIndexCheck] = []
                second = threading.Thread(
                    target=lambda: result.append(store.ensure_vector_index(client, COLLECTION, settings))
                )
                second.start()
                time.sleep(1.0)
                assert second.is_alive() and not result, "the second repair did not wait for the lock"
            finally:
                child.send_signal(signal.SIGKILL)  # in the middle of its repair
                child.wait()

            # 3. The waiting repairer gets the lock the kernel released, finishes the killed
            #    repair from its journal, then repairs what is still missing.
            second.join(120)
            assert result, "the second repair did not finish"
            check = result[0]
            assert check.restored == moved
            assert check.objects == N and check.ok and check.problems() == []
            assert store.ensure_vector_index(client, COLLECTION, settings).missing == []

            # 4. Every object is there, exactly as before, and findable by its own vector.
            after = stored(collection)
            assert sorted(after) == sorted(before)
            for uid, (properties, vector) in before.items():
                assert after[uid][0] == properties, uid
                assert np.array_equal(after[uid][1], vector), uid
            for i in range(N):
                (hit,) = store.search(
                    collection, lost.vectors[i], "image" if i % 2 == 0 else "audio", limit=1
                )
                assert hit.id == str(store.object_uuid("crash", "t", str(i))), i
            print(
                f"\n{len(missing)} of {N} vectors lost; repair killed after its first write "
                f"({moved} vectors moved by one ulp, 0 objects gone); the next repair restored "
                f"{check.restored} and re-indexed {len(check.repaired)} in {check.seconds:.1f}s"
            )
        finally:
            client.close()
