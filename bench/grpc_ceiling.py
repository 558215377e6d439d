"""Weaviate alone over gRPC: ghz (a native gRPC load generator, built from its Go module) sends
the very request the service sends (store.grpc_search.message: same filter, limit, properties),
for both targets. With the GraphQL ceiling (bench/ceiling.py) beside it, a service's throughput
reads as a share of what the database itself answers through either API.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path

from google.protobuf import json_format

from bench.ceiling import DEFAULT_K
from bench.load import Cell, Runner
from store import WEAVIATE_VERSION, SearchRequest
from store.grpc_search import message

STATUS_OK = "OK"


def weaviate_protos() -> Path:
    """The folder of Weaviate's .proto files, from the server's Go module (the Go module cache
    already holds it where `make weaviate` built the server; else the proxy serves it)."""
    out = subprocess.run(
        ["go", "mod", "download", "-json", f"github.com/weaviate/weaviate@v{WEAVIATE_VERSION}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return Path(json.loads(out.stdout)["Dir"]) / "grpc" / "proto"


def request_file(collection: str, vector: Sequence[float], target: str, work_dir: Path) -> Path:
    """The service's search for `target` (k = DEFAULT_K, no offset) as ghz's JSON data file."""
    request = SearchRequest(vector, target, DEFAULT_K)  # type: ignore[arg-type]
    path = work_dir / f"grpc-{target}.json"
    path.write_text(json_format.MessageToJson(message(collection, request), indent=None))
    return path


def parse_report(report: dict, concurrency: int) -> Cell:
    """ghz's JSON report -> a Cell (latencies are nanoseconds there)."""
    status = {str(k): int(v) for k, v in (report.get("statusCodeDistribution") or {}).items()}
    errors = {str(k): int(v) for k, v in (report.get("errorDistribution") or {}).items()}
    # When the duration ends ghz closes its connections under the calls still in flight (at most
    # one per client): those are the run's end, not the server's answers, and are left out.
    cut_off = sum(n for kind, n in errors.items() if "use of closed network connection" in kind)
    if cut_off:
        status["Unavailable"] = status.get("Unavailable", 0) - cut_off
        status = {k: v for k, v in status.items() if v > 0}
        errors = {k: v for k, v in errors.items() if "use of closed network connection" not in k}
    percentiles = {p["percentage"]: p["latency"] / 1e6 for p in report.get("latencyDistribution") or []}
    cell = Cell(concurrency)
    cell.seconds = report["total"] / 1e9
    cell.status = status
    cell.ok = status.get(STATUS_OK, 0)
    cell.non_2xx = sum(status.values()) - cell.ok
    cell.error_kinds = errors
    cell.errors = max(0, sum(errors.values()) - cell.non_2xx)  # ghz lists a failed call in both
    cell.rps = cell.ok / cell.seconds if cell.seconds > 0 else 0.0
    cell.p50_ms, cell.p95_ms, cell.p99_ms = (percentiles.get(p) for p in (50, 95, 99))
    return cell


def ghz_runner(ghz: Path, protos: Path, grpc_port: int, api_key: str, data: Path) -> Runner:
    """A closed loop of `concurrency` gRPC clients for `duration_s` seconds, like hey's."""

    def run(concurrency: int, duration_s: float) -> Cell:
        cmd = [
            str(ghz),
            "--insecure",
            "--import-paths", str(protos),
            "--proto", str(protos / "v1" / "weaviate.proto"),
            "--call", "weaviate.v1.Weaviate.Search",
            "--data-file", str(data),
            "--metadata", json.dumps({"authorization": f"Bearer {api_key}"}),
            "--concurrency", str(concurrency),
            "--connections", str(max(1, concurrency // 8)),  # as a client pool would
            "--duration", f"{duration_s}s",
            "--timeout", "30s",
            "--format", "json",
            f"127.0.0.1:{grpc_port}",
        ]  # fmt: skip
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration_s + 90, check=False)
        try:
            report = json.loads(out.stdout)
        except json.JSONDecodeError:
            raise RuntimeError(
                f"ghz failed ({out.returncode}): {out.stderr[-2000:] or out.stdout[-2000:]}"
            ) from None
        return parse_report(report, concurrency)

    return run
