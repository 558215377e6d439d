"""A real Weaviate whose vector index lost entries: objects stored, counted and fetchable, but
in no search result.

Without ASYNC_INDEXING (Weaviate's default, so a server configured by someone else may run
that way) a SIGKILL loses the tail of the vector index's commit log that was still in its
write buffer: 43 of 300 recordings once, sometimes nothing. To make the loss certain the
node is killed after the import and, while it is down, its commit log is cut to half its
length. The node runs docker-compose.yml's environment as a local process (tests/deploy).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import store
from tests.deploy.cluster import LocalCluster
from tests.store.test_crash_safety import BATCH, objects


@dataclass
class ShortIndex:
    cluster: LocalCluster
    settings: store.StoreSettings  # WEAVIATE_URL pointing at the node
    vectors: np.ndarray  # object i ("crash/t/i") has vectors[i]


@contextmanager
def short_index(
    workdir: Path, collection: str, n: int, model_version: str = "crashtest01", **settings: object
) -> Iterator[ShortIndex]:
    """A one-node server holding `n` objects of tests.store.test_crash_safety.objects, some of
    them missing from its vector index; `settings` go into the StoreSettings (e.g. checkpoint)."""
    cluster = LocalCluster(workdir / "node", compose_file="docker-compose.yml")
    (node,) = cluster.nodes
    node.env["ASYNC_INDEXING"] = "false"
    values: dict[str, object] = {
        "weaviate_url": node.url,
        "weaviate_grpc_port": node.grpc_port,
        "weaviate_api_key": cluster.api_key,
        "collection": collection,
        "cache_dir": workdir / "cache",
        **settings,
    }
    config = store.StoreSettings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]
    vectors = np.random.default_rng(1).normal(size=(n, 128)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    try:
        cluster.start()
        client = store.connect(config)
        try:
            collection_ = store.ensure_collection(client, config)
            batch = objects(vectors)
            for obj in batch:
                obj.properties["model_version"] = model_version
            for start in range(0, n, BATCH):
                assert not collection_.data.insert_many(batch[start : start + BATCH]).errors
            cluster.stop_node(node)  # SIGKILL
        finally:
            client.close()
        data = Path(node.env["PERSISTENCE_DATA_PATH"])
        logs = sorted(data.glob(f"{collection.lower()}/*/vectors_default.hnsw.commitlog.d/*"))
        assert logs, f"no HNSW commit log under {data}: Weaviate's layout changed"
        os.truncate(logs[-1], logs[-1].stat().st_size // 2)
        cluster.heal()
        yield ShortIndex(cluster, config, vectors)
    finally:
        cluster.close()
