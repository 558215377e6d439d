"""The containers' exact commands work: run them here, against Weaviate configured as compose does.

Weaviate runs with docker-compose.yml's `weaviate` environment (API key on, anonymous off,
no modules); the indexer and the api run their compose `command` with their compose
`environment` (see commands.py for the few container-only values mapped to this machine).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import store
from tests.outbound import OutboundRecorder

from .cluster import LocalCluster, Node, free_ports
from .commands import DATA_DIR, run_service, start_service, stop_service
from .specs import container_env, load_compose, parse_dockerfile

COMPOSE = "docker-compose.yml"
API_KEY = "compose-commands-test-key"
SERVICE_KEY = "compose-commands-service-key"  # the api's own API_KEY, in the keyed run
COLLECTION = "DeployCompose"
LIMIT = "150"  # items per source: enough to search, quick to embed

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def weaviate_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCluster, Node]]:
    server = LocalCluster(tmp_path_factory.mktemp("compose-weaviate"), COMPOSE, API_KEY)
    assert len(server.nodes) == 1
    try:
        server.start()
        yield server, server.nodes[0]
    finally:
        server.close()


def weaviate_overrides(node: Node) -> dict[str, str]:
    return {
        "WEAVIATE_URL": node.url,
        "WEAVIATE_GRPC_PORT": str(node.grpc_port),
        "COLLECTION": COLLECTION,
        "INDEX_LIMIT": LIMIT,
    }


def test_weaviate_requires_the_api_key_but_not_for_readiness(
    weaviate_node: tuple[LocalCluster, Node],
) -> None:
    _, node = weaviate_node
    # the compose healthcheck's URL answers without a key
    healthcheck = load_compose(COMPOSE, {"WEAVIATE_API_KEY": API_KEY})["services"]["weaviate"]["healthcheck"]
    url = healthcheck["test"][-1].replace("http://127.0.0.1:8080", node.url)
    with urllib.request.urlopen(url, timeout=5) as r:
        assert r.status == 200
    with pytest.raises(urllib.error.HTTPError) as anonymous:
        urllib.request.urlopen(f"{node.url}/v1/schema", timeout=5)
    assert anonymous.value.code == 401
    wrong = urllib.request.Request(f"{node.url}/v1/schema", headers={"Authorization": "Bearer nope"})
    with pytest.raises(urllib.error.HTTPError) as bad_key:
        urllib.request.urlopen(wrong, timeout=5)
    assert bad_key.value.code == 401
    good = urllib.request.Request(f"{node.url}/v1/schema", headers={"Authorization": f"Bearer {API_KEY}"})
    with urllib.request.urlopen(good, timeout=5) as r:
        assert r.status == 200
    meta = urllib.request.Request(f"{node.url}/v1/meta", headers={"Authorization": f"Bearer {API_KEY}"})
    with urllib.request.urlopen(meta, timeout=5) as r:
        body = json.loads(r.read())
    assert body["version"] == store.WEAVIATE_VERSION
    assert body["modules"] == {}  # ENABLE_MODULES="": no vectorizer or any other module


def test_indexer_command_indexes_and_is_idempotent(weaviate_node: tuple[LocalCluster, Node]) -> None:
    server, node = weaviate_node
    first = run_service(COMPOSE, "indexer", API_KEY, weaviate_overrides(node), timeout_s=300)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    counts = collection_counts(server, node)
    assert counts == {"image": int(LIMIT), "audio": int(LIMIT)}
    # `docker compose up` again: the indexer runs again and changes nothing
    second = run_service(COMPOSE, "indexer", API_KEY, weaviate_overrides(node), timeout_s=300)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert collection_counts(server, node) == counts


def collection_counts(server: LocalCluster, node: Node) -> dict[str, int]:
    settings = store.StoreSettings(
        _env_file=None,
        weaviate_url=node.url,
        weaviate_grpc_port=node.grpc_port,
        weaviate_api_key=server.api_key,
        collection=COLLECTION,
    )
    client = store.connect(settings)
    try:
        per_label = store.counts(client.collections.get(COLLECTION))
    finally:
        client.close()
    return {modality: sum(labels.values()) for modality, labels in per_label.items()}


@pytest.fixture(params=[None, SERVICE_KEY], ids=["open", "keyed"])
def api(
    request: pytest.FixtureRequest, weaviate_node: tuple[LocalCluster, Node], tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[bytes], int, Path, dict[str, str]]]:
    """The api as `docker compose up` starts it; keyed: with API_KEY in the shell."""
    _, node = weaviate_node
    (port,) = free_ports(0, 1)[1]
    log = tmp_path / "api.log"
    shell = {} if request.param is None else {"API_KEY": request.param}
    overrides = {**weaviate_overrides(node), "PORT": str(port)}
    process = start_service(COMPOSE, "api", API_KEY, overrides, log, shell)
    try:
        yield process, port, log, shell
    finally:
        stop_service(process)


def key_header(shell: dict[str, str]) -> dict[str, str]:
    return {"X-API-Key": shell["API_KEY"]} if "API_KEY" in shell else {}


def wait_ready(
    port: int,
    process: subprocess.Popen[bytes],
    log: Path,
    headers: dict[str, str] | None = None,
    timeout_s: float = 180.0,
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, f"api exited {process.returncode}:\n{log.read_text()[-3000:]}"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", headers=headers, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"api not ready in {timeout_s}s:\n{log.read_text()[-3000:]}")


def healthcheck(test: list[str], port: int, container: dict[str, str]) -> int:
    """Run a healthcheck's exec-form command as Docker would: in the container's environment."""
    assert test[0] == "python"
    env = {**container, "PATH": str(Path(sys.executable).parent), "PORT": str(port)}
    return subprocess.run([sys.executable, *test[1:]], env=env, capture_output=True, timeout=30).returncode


def loaded_libraries(pid: int) -> set[str]:
    """Shared objects mapped into a process: what it has imported, native code included."""
    maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
    return {line.split()[-1] for line in maps if ".so" in line.rsplit("/", 1)[-1]}


def test_api_command_serves_and_becomes_ready(
    weaviate_node: tuple[LocalCluster, Node],
    api: tuple[subprocess.Popen[bytes], int, Path, dict[str, str]],
) -> None:
    process, port, log, shell = api
    key = key_header(shell)
    wait_ready(port, process, log, headers=key)
    svc = load_compose(COMPOSE, {"WEAVIATE_API_KEY": API_KEY, **shell})["services"]["api"]
    compose_test = svc["healthcheck"]["test"]
    assert compose_test[0] == "CMD"
    assert healthcheck(compose_test[1:], port, container_env(svc)) == 0  # compose's: /readyz
    (image_hc,) = parse_dockerfile().final.all("HEALTHCHECK")
    image_test = json.loads(image_hc.args.partition(" CMD ")[2])
    assert healthcheck(image_test, port, container_env(svc)) == 0  # the image's: /healthz
    if key:  # the key compose passed is the one the service asks for
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 401
        assert healthcheck(image_test, port, {}) == 0  # liveness needs none

    # a real search through HTTP: an MNIST test image as PNG finds spoken digits
    from models.data import load_mnist, mnist_png

    images, labels = load_mnist(DATA_DIR, train=False)
    response = httpx.post(
        f"http://127.0.0.1:{port}/search",
        files={"file": ("digit.png", mnist_png(images[0]), "image/png")},
        headers=key,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["query"]["modality"] == "image" and body["target"] == "audio"
    assert len(body["results"]) == 5
    assert all(r["modality"] == "audio" for r in body["results"])
    assert all(uuid.UUID(r["id"]) for r in body["results"])

    # The CPU path runs the encoders on ONNX Runtime: no part of PyTorch is in the process.
    libraries = loaded_libraries(process.pid)
    assert any("onnxruntime" in lib for lib in libraries), sorted(libraries)
    assert not [lib for lib in libraries if "/torch" in lib or "libtorch" in lib]

    # `docker compose stop` sends SIGTERM: the service shuts down gracefully and in time.
    # (uvicorn re-raises the signal after its shutdown, so the status says "terminated".)
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) in (0, -signal.SIGTERM), log.read_text()[-3000:]
    assert "Application shutdown complete" in log.read_text()


def test_the_api_sends_nothing_outside(weaviate_node: tuple[LocalCluster, Node], tmp_path: Path) -> None:
    """A search service calls no one: through start, PNG and WAV searches and shutdown, nothing
    reaches a stand-in for the internet, and nothing is queued to send later (ONNX Runtime's
    official wheels upload usage telemetry from Linux too, and keep a queue under ~/.cache)."""
    from models.data import fsdd_items, load_mnist, mnist_png

    _, node = weaviate_node
    home = tmp_path / "home"
    home.mkdir()
    (port,) = free_ports(0, 1)[1]
    log = tmp_path / "api.log"
    with OutboundRecorder() as internet:
        overrides = {**weaviate_overrides(node), "PORT": str(port), "HOME": str(home), **internet.proxy_env()}
        process = start_service(COMPOSE, "api", API_KEY, overrides, log)
        try:
            wait_ready(port, process, log)
            images, _ = load_mnist(DATA_DIR, train=False)
            wav = fsdd_items(DATA_DIR, "validation")[0].path.read_bytes()
            for name, body, kind in (
                ("d.png", mnist_png(images[0]), "image/png"),
                ("d.wav", wav, "audio/wav"),
            ):
                response = httpx.post(
                    f"http://127.0.0.1:{port}/search", files={"file": (name, body, kind)}, timeout=30
                )
                assert response.status_code == 200, response.text
        finally:
            stop_service(process)
        time.sleep(1)  # anything sent at exit has reached the recorder
        assert internet.seen == [], internet.seen
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == []
