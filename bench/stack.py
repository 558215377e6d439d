"""The system under test, started by the bench itself: an embedded Weaviate on free ports with a
throw-away data folder, the validation sets indexed into it, and the service as a real process.

Everything started here is registered on an ExitStack, so a finished run, an error and Ctrl-C
all stop the service first and then Weaviate (closing the last client stops the embedded server).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import weaviate

import store
from indexer import pipeline
from indexer.settings import IndexerSettings
from store.embedded.server_process import free_port

ROOT = Path(__file__).resolve().parents[1]


def bench_settings(weaviate_dir: Path) -> IndexerSettings:
    """The environment's model settings (CHECKPOINT, DEVICE, DATA_DIR) on a private embedded server."""
    return IndexerSettings(
        weaviate_url=None,  # always our own server: a WEAVIATE_URL in the environment must not leak in
        weaviate_api_key=None,
        weaviate_port=free_port(),
        weaviate_grpc_port=free_port(),
        weaviate_data_dir=weaviate_dir,
        weaviate_timeout_s=30.0,  # scale imports and 64 concurrent clients need room
        index_sources="mnist,fsdd",
        index_limit=None,
        recreate=False,
    )


def start_weaviate(settings: IndexerSettings, stack: ExitStack) -> weaviate.WeaviateClient:
    """Start (and lease) the embedded server; the stack closes the client, which stops the server."""
    client = store.connect(settings)
    stack.callback(client.close)
    return client


def weaviate_pid(settings: IndexerSettings) -> int:
    return int((settings.weaviate_data_dir / ".server.pid").read_text())


def weaviate_api_key(settings: IndexerSettings) -> str:
    return (settings.weaviate_data_dir / ".api-key").read_text().strip()


def wait_indexed(client: weaviate.WeaviateClient, collection: str, timeout_s: float) -> float:
    """Seconds until every shard of `collection` has built its vector index (store.wait_indexed).

    Weaviate (1.39, embedded) indexes vectors asynchronously: a batch import returns once the
    objects are stored, and the HNSW graph catches up from a queue. Import rates and HNSW queries
    are only meaningful once that queue is empty.
    """
    t = time.perf_counter()
    store.wait_indexed(client, collection, timeout_s)
    return time.perf_counter() - t


def index_validation_sets(settings: IndexerSettings, client: weaviate.WeaviateClient) -> dict:
    """Index MNIST test + FSDD validation with the project's indexer; its timings for the report."""
    t = time.perf_counter()
    report = pipeline.run(settings, progress=False)
    wall = time.perf_counter() - t
    if not report.ok:
        raise RuntimeError(f"indexing failed: {report.failures[:5]} {report.problems}")
    queue_s = wait_indexed(client, settings.collection, timeout_s=600)
    return {
        "model_version": report.model_version,
        "objects": report.total,
        "written": report.written,
        "seconds": {k: round(v, 3) for k, v in report.seconds.items()},
        "wall_s": round(wall, 3),
        "vector_queue_drained_after_s": round(queue_s, 3),  # async HNSW indexing after the indexer returned
    }


@dataclass
class Service:
    """`python -m launcher` (what `make run` runs) as a child process in its own session."""

    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    ready_s: float = float("nan")  # start to the first 200 from /readyz

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, wait_s: float = 20.0) -> None:
        """Ctrl-C as a user would send it, then SIGTERM, then SIGKILL if it does not go."""
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGKILL):
            if self.process.poll() is not None:
                return
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=wait_s)
            except subprocess.TimeoutExpired:
                continue


def service_env(
    settings: IndexerSettings, port: int, extra: dict[str, str], root: Path = ROOT
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WEAVIATE_URL", "WEAVIATE_API_KEY")}
    env.update(
        WEAVIATE_PORT=str(settings.weaviate_port),
        WEAVIATE_GRPC_PORT=str(settings.weaviate_grpc_port),
        WEAVIATE_DATA_DIR=str(settings.weaviate_data_dir),
        WEAVIATE_TIMEOUT_S="5",  # the service's own default deadline
        DATA_DIR=str(settings.data_dir),
        COLLECTION=settings.collection,
        CHECKPOINT=str(settings.checkpoint),
        DEVICE=settings.device,
        HOST="127.0.0.1",
        PORT=str(port),
        PYTHONPATH=str(root),
    )
    if int(extra.get("WORKERS", "1")) > 1:
        # Several uvicorn workers cannot each own the embedded server: they reach ours as a
        # remote one (WEAVIATE_URL), as a deployment with WORKERS > 1 must.
        env.update(
            WEAVIATE_URL=f"http://127.0.0.1:{settings.weaviate_port}",
            WEAVIATE_API_KEY=weaviate_api_key(settings),
        )
    env.update(extra)
    return env


def start_service(
    settings: IndexerSettings,
    log_dir: Path,
    extra_env: dict[str, str],
    stack: ExitStack,
    ready_timeout_s: float = 180.0,
    root: Path = ROOT,
) -> Service:
    """Start the service against our Weaviate and wait until /readyz answers 200."""
    port = free_port()
    log_path = log_dir / "service.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed by the stack after the process stops
    stack.callback(log.close)
    t0 = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "launcher"],
        cwd=root,  # another checkout (an older commit) gives a before/after in one run
        env=service_env(settings, port, extra_env, root),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # our Ctrl-C handler stops it in order, not the terminal
    )
    service = Service(process, f"http://127.0.0.1:{port}", log_path)
    stack.callback(service.stop)
    deadline = t0 + ready_timeout_s
    with httpx.Client(timeout=5.0) as http:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the service exited with {process.returncode}; see {log_path}")
            try:
                if http.get(f"{service.base_url}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.perf_counter() > deadline:
                raise RuntimeError(
                    f"the service was not ready within {ready_timeout_s:.0f} s; see {log_path}"
                )
            time.sleep(0.05)
    service.ready_s = time.perf_counter() - t0
    return service
