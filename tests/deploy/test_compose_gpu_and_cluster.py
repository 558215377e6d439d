"""The GPU profile of docker-compose.yml and the 3-node docker-compose.cluster.yml, as the docker
compose CLI resolves them (see test_compose_files.py)."""

from __future__ import annotations

import re

import pytest

from store import StoreSettings

from .compose_model import (
    CLUSTER,
    SINGLE,
    app_services,
    is_indexer,
    services,
    weaviate_nodes,
)
from .specs import (
    container_env,
    parse_dockerfile,
    stage_args,
)

# ----------------------------------------------------------------- gpu profile


def test_gpu_profile_builds_cuda_and_reserves_a_gpu() -> None:
    all_services = services(SINGLE)
    gpu = {k: s for k, s in all_services.items() if "gpu" in s.get("profiles", [])}
    assert {is_indexer(s) for s in gpu.values()} == {True, False}, "a GPU indexer and a GPU api"
    builder = parse_dockerfile().stages[0]
    for svc_name, svc in gpu.items():
        assert svc["profiles"] == ["gpu"]
        assert container_env(svc)["DEVICE"] == "cuda", svc_name
        url = stage_args(builder, svc["build"]["args"])["TORCH_INDEX_URL"]
        assert re.fullmatch(r"https://download\.pytorch\.org/whl/cu\d+", url), url
        (device,) = svc["deploy"]["resources"]["reservations"]["devices"]
        assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
        assert device["count"] == 1
        assert svc["image"].endswith("-" + url.rsplit("/", 1)[1])  # its own tag, never the CPU one
    # without the profile, everything else starts: nothing else carries a profile
    assert all("profiles" not in s for k, s in all_services.items() if k not in gpu)


# ----------------------------------------------------------------- the cluster


def test_cluster_has_three_raft_voters_joined_by_name() -> None:
    nodes = weaviate_nodes(CLUSTER)
    assert len(nodes) == 3
    envs = {k: container_env(n) for k, n in nodes.items()}
    hostnames = [e["CLUSTER_HOSTNAME"] for e in envs.values()]
    assert len(set(hostnames)) == 3
    raft_join = {e["RAFT_JOIN"] for e in envs.values()}
    assert len(raft_join) == 1, "every node lists the same voters"
    voters = dict(v.split(":") for v in raft_join.pop().split(","))
    assert voters == {e["CLUSTER_HOSTNAME"]: e["RAFT_PORT"] for e in envs.values()}
    for node_name, env in envs.items():
        assert env["RAFT_BOOTSTRAP_EXPECT"] == "3", node_name
        gossip, data = int(env["CLUSTER_GOSSIP_BIND_PORT"]), int(env["CLUSTER_DATA_BIND_PORT"])
        assert data == gossip + 1, (
            f"{node_name}: Weaviate's convention, its fallback when metadata is missing"
        )
        assert int(env["RAFT_INTERNAL_RPC_PORT"]) not in {gossip, data, int(env["RAFT_PORT"])}
    # A node calls a peer's Raft RPC at the peer's address and its *own* RPC port.
    assert len({e["RAFT_INTERNAL_RPC_PORT"] for e in envs.values()}) == 1
    gossip_ports = [e["CLUSTER_GOSSIP_BIND_PORT"] for e in envs.values()]
    assert len(set(gossip_ports)) == 3


def test_cluster_nodes_join_the_first_one_over_gossip() -> None:
    nodes = weaviate_nodes(CLUSTER)
    (seed,) = [k for k, n in nodes.items() if "CLUSTER_JOIN" not in container_env(n)]
    seed_gossip = container_env(nodes[seed])["CLUSTER_GOSSIP_BIND_PORT"]
    for node_name, node in nodes.items():
        if node_name == seed:
            continue
        assert container_env(node)["CLUSTER_JOIN"] == f"{seed}:{seed_gossip}", node_name
        # started, not healthy: no deadlock
        assert node["depends_on"] == {seed: {"condition": "service_started", "required": True}}, node_name


def test_cluster_nodes_answer_to_one_name() -> None:
    for node_name, node in weaviate_nodes(CLUSTER).items():
        assert "weaviate" in node["networks"]["default"]["aliases"], node_name


def test_cluster_app_settings_shard_and_replicate(monkeypatch: pytest.MonkeyPatch) -> None:
    nodes = weaviate_nodes(CLUSTER)
    for svc_name, svc in app_services(CLUSTER).items():
        env = container_env(svc)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = StoreSettings(_env_file=None)
        assert settings.replication_factor == 3 == len(nodes), svc_name
        assert settings.shards == 3, svc_name
    indexer = next(s for s in app_services(CLUSTER).values() if is_indexer(s))
    assert set(indexer["depends_on"]) == set(nodes)


def test_cluster_nodes_share_the_single_node_settings() -> None:
    single = container_env(next(iter(weaviate_nodes(SINGLE).values())))
    cluster_only = {"CLUSTER_HOSTNAME"}
    for node_name, node in weaviate_nodes(CLUSTER).items():
        env = container_env(node)
        for key, value in single.items():
            if key not in cluster_only:
                assert env.get(key) == value, f"{node_name}: {key}"
