"""Run docker-compose.cluster.yml's three Weaviate nodes as local processes (no Docker).

Each node gets exactly the environment the compose file gives it, except what differs
only because the nodes share one host instead of having a network namespace each:
- ports: each node gets free loopback ports for gossip and data (data = gossip + 1, as in
  the compose file), Raft, Raft RPC, HTTP and gRPC; RAFT_JOIN keeps the compose
  file's voter names with each node's local Raft port;
- CLUSTER_IN_LOCALHOST=true, Weaviate's switch for nodes sharing a host: a peer's Raft RPC
  is then its Raft port + 1 instead of the shared RAFT_INTERNAL_RPC_PORT;
- CLUSTER_JOIN's host (the seed's service name) becomes 127.0.0.1, and the nodes bind and
  advertise 127.0.0.1 (CLUSTER_BIND_ADDR / CLUSTER_ADVERTISE_ADDR: in a container memberlist
  finds the container's private IPv4 itself; on a host it may pick any address);
- PERSISTENCE_DATA_PATH is a folder per node under a temporary directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from store import embedded_binary
from store.embedded.server_process import free_port

from .specs import container_env, load_compose

COMPOSE_FILE = "docker-compose.cluster.yml"


def free_ports(pairs: int, singles: int) -> tuple[list[int], list[int]]:
    """Free loopback ports, all distinct: `pairs` ports p whose p+1 is free too, and `singles`
    (outside the kernel's range for outgoing connections: a restarted node gets them back)."""
    taken: set[int] = set()

    def pick(span: int) -> int:
        port = free_port(span, frozenset(taken))
        taken.update(range(port, port + span))
        return port

    firsts = [pick(2) for _ in range(pairs)]
    return firsts, [pick(1) for _ in range(singles)]


def compose_nodes(api_key: str, compose_file: str = COMPOSE_FILE) -> dict[str, dict[str, str]]:
    """The Weaviate services of a compose file: service name -> environment."""
    services = load_compose(compose_file, {"WEAVIATE_API_KEY": api_key})["services"]
    return {
        name: container_env(svc)
        for name, svc in services.items()
        if svc["image"].startswith("cr.weaviate.io/")
    }


def compose_app_env(api_key: str, service: str = "api", compose_file: str = COMPOSE_FILE) -> dict[str, str]:
    services = load_compose(compose_file, {"WEAVIATE_API_KEY": api_key})["services"]
    return container_env(services[service])


@dataclass
class Node:
    service: str  # compose service name, e.g. weaviate-node-1
    name: str  # CLUSTER_HOSTNAME
    env: dict[str, str]
    http_port: int
    grpc_port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class LocalCluster:
    """The Weaviate nodes of `compose_file` (one for docker-compose.yml, three for the cluster)."""

    workdir: Path
    compose_file: str = COMPOSE_FILE
    api_key: str = "cluster-test-key"
    binary: Path = field(default_factory=embedded_binary)
    nodes: list[Node] = field(default_factory=list)

    def __post_init__(self) -> None:
        specs = compose_nodes(self.api_key, self.compose_file)
        pairs, singles = free_ports(pairs=2 * len(specs), singles=2 * len(specs))
        gossip = iter(pairs[: len(specs)])  # data = gossip + 1
        raft = iter(pairs[len(specs) :])  # local Raft RPC = Raft + 1
        single = iter(singles)
        local_raft = {env["CLUSTER_HOSTNAME"]: next(raft) for env in specs.values()}
        seed_gossip: int | None = None
        for service, compose_env in specs.items():
            env = dict(compose_env)
            name = env["CLUSTER_HOSTNAME"]
            g = next(gossip)
            seed_gossip = seed_gossip or g  # the first node is the seed (no CLUSTER_JOIN)
            voters = [v.split(":")[0] for v in env.get("RAFT_JOIN", name).split(",")]
            http_port, grpc_port = next(single), next(single)
            env.update(
                CLUSTER_GOSSIP_BIND_PORT=str(g),
                CLUSTER_DATA_BIND_PORT=str(g + 1),
                RAFT_PORT=str(local_raft[name]),
                RAFT_INTERNAL_RPC_PORT=str(local_raft[name] + 1),
                CLUSTER_IN_LOCALHOST="true",
                CLUSTER_BIND_ADDR="127.0.0.1",
                CLUSTER_ADVERTISE_ADDR="127.0.0.1",
                PERSISTENCE_DATA_PATH=str(self.workdir / service),
                GRPC_PORT=str(grpc_port),
            )
            if "RAFT_JOIN" in env:
                env["RAFT_JOIN"] = ",".join(f"{v}:{local_raft[v]}" for v in voters)
            if "CLUSTER_JOIN" in env:
                env["CLUSTER_JOIN"] = f"127.0.0.1:{seed_gossip}"
            self.nodes.append(Node(service, name, env, http_port, grpc_port, self.workdir / f"{service}.log"))

    # ------------------------------------------------------------ lifecycle

    def start_node(self, node: Node) -> None:
        assert self.binary.is_file(), f"{self.binary} missing: run `make weaviate`"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/tmp"),
            **node.env,
        }
        with node.log.open("ab") as log:
            node.process = subprocess.Popen(
                [str(self.binary), "--host", "127.0.0.1", "--port", str(node.http_port), "--scheme", "http"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def start(self, timeout_s: float = 120.0) -> None:
        """Seed first, then the others (compose: depends_on the seed, started not healthy)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        seed, *others = self.nodes
        self.start_node(seed)
        if others:
            time.sleep(1.0)
        for node in others:
            self.start_node(node)
        self.wait_ready(self.nodes, timeout_s)

    def wait_ready(self, nodes: list[Node], timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        for node in nodes:
            while not self.ready(node):
                if not node.running():
                    raise RuntimeError(f"{node.service} exited:\n{self.tail(node)}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{node.service} not ready in {timeout_s}s:\n{self.tail(node)}")
                time.sleep(0.5)

    def ready(self, node: Node) -> bool:
        try:
            with urllib.request.urlopen(f"{node.url}/v1/.well-known/ready", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop_node(self, node: Node, sig: int = signal.SIGKILL, timeout_s: float = 30.0) -> None:
        """Stop one node (SIGKILL by default: a crash, not a goodbye)."""
        if node.process is None or node.process.poll() is not None:
            return
        node.process.send_signal(sig)
        try:
            node.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait(10)

    def heal(self, timeout_s: float = 120.0) -> None:
        """Restart any stopped node and wait until all are ready and see each other."""
        stopped = [n for n in self.nodes if not n.running()]
        for node in stopped:
            self.start_node(node)
        self.wait_ready(self.nodes, timeout_s)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                statuses = [m["status"] for m in self.nodes_status(self.nodes[0])]
                if statuses == ["HEALTHY"] * len(self.nodes) and self.leader(self.nodes[0]):
                    return
            except (urllib.error.URLError, OSError, StopIteration, KeyError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"cluster not whole again in {timeout_s}s")
            time.sleep(0.5)

    def close(self) -> None:
        for node in self.nodes:
            self.stop_node(node, signal.SIGTERM)

    def tail(self, node: Node, lines: int = 30) -> str:
        try:
            return "\n".join(node.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # ------------------------------------------------------------ inspection

    def nodes_status(self, via: Node) -> list[dict[str, object]]:
        """GET /v1/nodes through `via` (what the cluster thinks of its members)."""
        request = urllib.request.Request(
            f"{via.url}/v1/nodes", headers={"Authorization": f"Bearer {self.api_key}"}
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            return json.loads(r.read())["nodes"]

    def leader(self, via: Node) -> str:
        """The current Raft leader's node name, as `via` sees it."""
        request = urllib.request.Request(
            f"{via.url}/v1/cluster/statistics", headers={"Authorization": f"Bearer {self.api_key}"}
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            stats = json.loads(r.read())["statistics"]
        return next(s["name"] for s in stats if s["raft"]["state"] == "Leader")

    def settings_env(self, via: Node, service: str = "api") -> dict[str, str]:
        """The compose app service's environment, pointed at `via` instead of http://weaviate:8080."""
        env = compose_app_env(self.api_key, service, self.compose_file)
        env.update(WEAVIATE_URL=via.url, WEAVIATE_GRPC_PORT=str(via.grpc_port))
        return env


@contextlib.contextmanager
def local_cluster(workdir: Path, compose_file: str = COMPOSE_FILE) -> Iterator[LocalCluster]:
    cluster = LocalCluster(workdir, compose_file)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()
