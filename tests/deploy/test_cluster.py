"""docker-compose.cluster.yml's cluster, for real, without Docker: three local Weaviate servers.

The nodes run with the cluster file's settings (cluster.py maps only the ports and
addresses that differ on one host); the collection is created by the project's own
`ensure_collection` with the cluster file's SHARDS=3 / REPLICATION_FACTOR=3. Then one node
is killed and we check what still works: searches, through the store and through the API.
"""

from __future__ import annotations

import base64
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import weaviate
from weaviate.classes.config import ConsistencyLevel
from weaviate.classes.data import DataObject
from weaviate.collections import Collection
from weaviate.exceptions import WeaviateBaseError

import store

from .cluster import LocalCluster, Node, free_ports, local_cluster
from .commands import DATA_DIR, run_service, start_service, stop_service

pytestmark = pytest.mark.slow

COMPOSE = "docker-compose.cluster.yml"
N = 300  # objects: half "image", half "audio"


@pytest.fixture(scope="module")
def running_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with local_cluster(tmp_path_factory.mktemp("cluster"), COMPOSE) as c:
        yield c


@pytest.fixture
def cluster(running_cluster: LocalCluster) -> LocalCluster:
    """The cluster, whole: a test that stopped a node and failed does not leak into the next."""
    running_cluster.heal()
    return running_cluster


def settings_via(cluster: LocalCluster, node: Node, collection: str) -> store.StoreSettings:
    """What the compose `api` service would read, pointed at `node` instead of the alias."""
    env = {k.lower(): v for k, v in cluster.settings_env(node).items()}
    env["collection"] = collection
    fields = store.StoreSettings.model_fields
    return store.StoreSettings(_env_file=None, **{k: v for k, v in env.items() if k in fields})


def retry(check: Callable[[], bool], timeout_s: float, every_s: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except (WeaviateBaseError, store.StoreUnavailable):
            pass
        time.sleep(every_s)
    return False


def test_three_nodes_form_one_cluster(cluster: LocalCluster) -> None:
    for node in cluster.nodes:
        members = {m["name"]: m["status"] for m in cluster.nodes_status(node)}
        assert members == {"node1": "HEALTHY", "node2": "HEALTHY", "node3": "HEALTHY"}, node.service


# ----------------------------------------------------------------- through the store


def unit_vectors(n: int, seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, 128)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def objects(vectors: np.ndarray, split: str) -> list[DataObject[Any, Any]]:
    return [
        DataObject(
            properties={
                "modality": "image" if i % 2 == 0 else "audio",
                "label": i % 10,
                "source": "synthetic",
                "split": split,
                "name": str(i),
                "speaker": None if i % 2 == 0 else "synthetic",
                "media": base64.b64encode(f"item {i}".encode()).decode(),
                "model_version": "cluster-test",
            },
            uuid=store.object_uuid("synthetic", split, str(i)),
            vector=vec.tolist(),
        )
        for i, vec in enumerate(vectors)
    ]


def write(collection: Collection, level: ConsistencyLevel, items: list[DataObject[Any, Any]]) -> bool:
    """True when every object was written at `level`."""
    try:
        result = collection.with_consistency_level(level).data.insert_many(items)
    except WeaviateBaseError:
        return False
    return not result.has_errors


def searches(collection: Collection, queries: np.ndarray) -> list[list[str]]:
    return [
        [h.id for h in store.search(collection, q, target, limit=5)]
        for q in queries
        for target in ("image", "audio", None)
    ]


def test_replicated_collection_survives_one_node_down(cluster: LocalCluster) -> None:
    # The node that goes down is the Raft leader, the worst case: with Weaviate's default
    # COLLECTION_RETRIEVAL_STRATEGY every write would wait for a new leader.
    leader = cluster.leader(cluster.nodes[0])
    down = next(n for n in cluster.nodes if n.name == leader)
    via, other = (n for n in cluster.nodes if n is not down)
    settings = settings_via(cluster, via, "DeployCluster")
    assert (settings.shards, settings.replication_factor) == (3, 3)  # from the compose file
    client = store.connect(settings)
    client2: weaviate.WeaviateClient | None = None
    try:
        col = store.ensure_collection(client, settings)
        config = col.config.get()
        assert config.replication_config.factor == 3
        assert config.sharding_config.actual_count == 3
        shards = {
            n.name: sorted(s.name for s in n.shards or [])
            for n in client.cluster.nodes(col.name, output="verbose")
        }
        assert len(shards) == 3 and len({tuple(s) for s in shards.values()}) == 1, shards
        assert all(len(s) == 3 for s in shards.values()), "every node holds a replica of all three shards"

        vectors = unit_vectors(N, seed=0)
        assert write(col, ConsistencyLevel.ALL, objects(vectors, "validation"))
        store.wait_indexed(client, col.name)  # ASYNC_INDEXING: searchable once queued vectors are in
        # even i: images with even labels, odd i: audio with odd labels, N/10 of each label
        assert store.counts(col) == {
            "image": dict.fromkeys(range(0, 10, 2), N // 10),
            "audio": dict.fromkeys(range(1, 10, 2), N // 10),
        }
        # each object is its own nearest neighbour within its modality
        for i in range(0, N, 37):
            (hit,) = store.search(col, vectors[i], "image" if i % 2 == 0 else "audio", limit=1)
            assert hit.id == str(store.object_uuid("synthetic", "validation", str(i)))
        queries = unit_vectors(10, seed=1)
        before = searches(col, queries)

        cluster.stop_node(down)  # SIGKILL: a crash

        # Writes, at once: while the dead node is still a member (failure detection takes
        # seconds; afterwards ALL means all *live* replicas), ALL cannot be met; QUORUM (the
        # default) and ONE can. "At once" = refused by Weaviate, well before the client's own
        # deadline (WEAVIATE_WRITE_TIMEOUT_S) would end the call.
        refused_within = settings.weaviate_write_timeout_s / 2
        for seed, (level, split, n, written) in enumerate(
            [
                (ConsistencyLevel.ALL, "down-all", 1, False),
                (ConsistencyLevel.QUORUM, "down-quorum", 2, True),
                (ConsistencyLevel.ONE, "down-one", 2, True),
            ]
        ):
            start = time.monotonic()
            assert write(col, level, objects(unit_vectors(n, seed + 2), split)) is written, level
            assert time.monotonic() - start < refused_within, level

        # Searches: same answers at the default (QUORUM), ONE and QUORUM, from either survivor.
        survivors = [
            col,
            col.with_consistency_level(ConsistencyLevel.ONE),
            col.with_consistency_level(ConsistencyLevel.QUORUM),
        ]
        client2 = store.connect(settings_via(cluster, other, "DeployCluster"))
        survivors.append(client2.collections.get("DeployCluster"))
        for view in survivors:
            after = [
                [i for i in ids if "down" not in store.get_item(col, i).split]
                for ids in searches(view, queries)
            ]
            assert [ids[: len(a)] for ids, a in zip(before, after, strict=True)] == after
            assert all(len(a) >= 3 for a in after)
        # ...and the queries the new objects answer are answered in full
        assert store.counts(col)["image"][0] == N // 10 + 2  # +1 QUORUM, +1 ONE write; the ALL one failed

        # The node comes back, rejoins, and the writes it missed reach it by read repair.
        cluster.start_node(down)
        cluster.wait_ready([down])
        assert retry(lambda: [m["status"] for m in cluster.nodes_status(via)] == ["HEALTHY"] * 3, 60)
        missed = [store.object_uuid("synthetic", "down-quorum", str(i)) for i in range(2)]
        all_view = col.with_consistency_level(ConsistencyLevel.ALL)
        assert retry(lambda: all(all_view.query.fetch_object_by_id(u) is not None for u in missed), 60)
        client3 = store.connect(settings_via(cluster, down, "DeployCluster"))
        try:
            one_on_the_restarted = client3.collections.get("DeployCluster").with_consistency_level(
                ConsistencyLevel.ONE
            )
            assert retry(
                lambda: all(one_on_the_restarted.query.fetch_object_by_id(u) is not None for u in missed), 30
            )
        finally:
            client3.close()
    finally:
        if client2 is not None:
            client2.close()
        client.close()


# ----------------------------------------------------------------- through the API


@pytest.fixture
def api_on_a_follower(
    cluster: LocalCluster, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path, Node]]:
    """The compose `indexer` then `api` commands, with the cluster file's environment.

    In compose they reach any live node through the `weaviate` alias; here they talk to one
    node that is not the Raft leader, so the test can kill the leader (the worst case).
    """
    leader = cluster.leader(cluster.nodes[0])
    node = next(n for n in cluster.nodes if n.name != leader)
    (port,) = free_ports(0, 1)[1]
    overrides = {
        "WEAVIATE_URL": node.url,
        "WEAVIATE_GRPC_PORT": str(node.grpc_port),
        "COLLECTION": "DeployClusterApi",
        "INDEX_LIMIT": "100",
        "PORT": str(port),
    }
    indexed = run_service(COMPOSE, "indexer", cluster.api_key, overrides, timeout_s=300)
    assert indexed.returncode == 0, indexed.stdout[-3000:] + indexed.stderr[-3000:]
    log = tmp_path / "api.log"
    process = start_service(COMPOSE, "api", cluster.api_key, overrides, log)
    try:
        yield process, port, log, node
    finally:
        stop_service(process)


def test_api_answers_the_same_with_the_raft_leader_down(
    cluster: LocalCluster, api_on_a_follower: tuple[subprocess.Popen[bytes], int, Path, Node]
) -> None:
    from models.data import fsdd_items, load_mnist, mnist_png

    from .test_compose_commands import wait_ready

    process, port, log, api_node = api_on_a_follower
    wait_ready(port, process, log)
    base = f"http://127.0.0.1:{port}"
    images, _ = load_mnist(DATA_DIR, train=False)
    png = mnist_png(images[0])
    wav = fsdd_items(DATA_DIR, "validation")[0].path.read_bytes()

    def ask() -> list[list[str]]:
        out = []
        for name, data in (("q.png", png), ("q.wav", wav)):
            r = httpx.post(f"{base}/search", files={"file": (name, data)}, params={"k": 10}, timeout=30)
            assert r.status_code == 200, r.text
            out.append([hit["id"] for hit in r.json()["results"]])
        return out

    def ready() -> bool:
        try:
            return httpx.get(f"{base}/readyz", timeout=15).status_code == 200
        except httpx.HTTPError:
            return False

    before = ask()
    assert all(len(ids) == 10 for ids in before)
    leader = next(n for n in cluster.nodes if n.name == cluster.leader(api_node))
    assert leader is not api_node
    cluster.stop_node(leader)
    killed = time.monotonic()
    try:
        # Searches need no leader: the same answers at once.
        assert ask() == before
        # Schema reads (readiness checks the collection) wait for a new leader: Raft elects
        # one among the two survivors within seconds, then /readyz is 200 again.
        assert retry(ready, timeout_s=60, every_s=1.0), log.read_text()[-3000:]
        assert time.monotonic() - killed < 60
        assert ask() == before
        assert cluster.leader(api_node) != leader.name
    finally:
        cluster.start_node(leader)
        cluster.wait_ready([leader])
