"""Soak: at least 20,000 mixed requests at concurrency 64 against the real service, measured.

    DATA_DIR=... python scripts/soak.py [--scale 1.0] [--limit N] [--out soak.json]

Starts what `make bench` starts (bench/stack.py): an embedded Weaviate on free ports with a
throw-away data folder, the validation sets indexed into it (all 10,300 items unless --limit),
and the service as a real `python -m launcher` process. Then one `hey` (the native load
generator, scripts/build_go_tool.sh hey) per kind of request, all at once, their concurrencies adding up
to 64: PNG search, WAV search, 4-file batch, "more like this", item media. Each hey sends a fixed
number of requests; the whole soak is bounded by --max-seconds.

Meanwhile one more client sends the costly-input corpus (tests/hostile/costly.py: uploads
small to send and costly to handle, and unevenly lit photos of real digits) round after round.

Reports per kind and in total: answers by status, transport errors, latency percentiles, and
the resident memory of the service (and Weaviate) after a warm-up and at the end; for the
costly corpus, each file's statuses and slowest answer. Exit status 1 when any answer was a
5xx, any request failed in transport, or the service's memory grew by more than
--max-growth-mb; this is a measurement, not a speed test: no latency is judged.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import log  # noqa: E402
from bench import stack as stk  # noqa: E402
from bench.load import Cell, Request, install_hey, parse_summary  # noqa: E402
from bench.resources import PeakSampler, memory_mb  # noqa: E402
from bench.sections import samples  # noqa: E402
from bench.service_load import check_requests, service_requests  # noqa: E402
from models.data import load_mnist  # noqa: E402
from tests.hostile.costly import costly_corpus  # noqa: E402

# kind -> (requests, concurrency): 20,000 requests, 64 at a time while all five run
MIX = {
    "png": (6_000, 16),
    "wav": (5_000, 16),
    "batch4": (1_500, 8),
    "similar": (4_000, 12),
    "media": (3_500, 12),
}
REQUEST_TIMEOUT_S = 30  # hey's per-request timeout: a request slower than this is a transport error


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", type=float, default=1.0, help="multiply every request count (default 1.0)")
    p.add_argument("--limit", type=int, default=None, help="index at most N items per source")
    p.add_argument("--max-seconds", type=float, default=420.0, help="abort the load after this long")
    p.add_argument("--max-growth-mb", type=float, default=100.0, help="service RSS growth that fails")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    return p.parse_args(argv)


def count(kind: str, scale: float) -> int:
    """Requests of `kind` at `scale`, a multiple of its concurrency (hey sends n // c per worker)."""
    n, c = MIX[kind]
    return c * max(1, math.ceil(n * scale / c))


def hey_command(hey: Path, request: Request, n: int, concurrency: int) -> list[str]:
    cmd = [str(hey), "-n", str(n), "-c", str(concurrency), "-t", str(REQUEST_TIMEOUT_S), "-m", request.method]
    if request.body is not None:
        cmd += ["-D", str(request.body)]
    if request.content_type is not None:
        cmd += ["-T", request.content_type]
    return [*cmd, request.url]


def run_mix(hey: Path, requests: dict[str, Request], scale: float, max_seconds: float) -> dict[str, Cell]:
    """Every kind at once, one hey each; waits for all (killing any still running at the bound)."""
    running = {
        kind: subprocess.Popen(
            hey_command(hey, requests[kind], count(kind, scale), c),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for kind, (_, c) in MIX.items()
    }
    deadline = time.monotonic() + max_seconds
    cells = {}
    for kind, process in running.items():
        try:
            out, err = process.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            raise RuntimeError(f"{kind}: hey still running after {max_seconds:.0f} s") from None
        if process.returncode != 0:
            raise RuntimeError(f"{kind}: hey failed ({process.returncode}): {err[-2000:]}")
        cells[kind] = parse_summary(out, MIX[kind][1])
    return cells


class CostlyStream:
    """One client sending every file of the costly corpus, round after round, until stopped."""

    def __init__(self, url: str, cases: list, stop: threading.Event) -> None:
        self.url, self.cases, self.stop = url, cases, stop
        self.results: dict[str, dict] = {c.name: {"status": Counter(), "max_s": 0.0} for c in cases}
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        with httpx.Client(timeout=REQUEST_TIMEOUT_S) as http:
            while not self.stop.is_set():
                for case in self.cases:
                    result = self.results[case.name]
                    try:
                        r = http.post(self.url, files={"file": (case.name, case.data)})
                    except httpx.HTTPError as exc:
                        result["status"][f"transport: {type(exc).__name__}"] += 1
                        continue
                    result["status"][str(r.status_code)] += 1
                    result["max_s"] = max(result["max_s"], r.elapsed.total_seconds())
                    if self.stop.is_set():
                        return


def soak(args: argparse.Namespace, work: Path, stack: ExitStack) -> dict:
    hey = install_hey()
    settings = stk.bench_settings(work / "weaviate").model_copy(
        update={"collection": "Soak", "index_limit": args.limit}
    )
    client = stk.start_weaviate(settings, stack)
    log("indexing the validation sets...")
    index = stk.index_validation_sets(settings, client)
    service = stk.start_service(settings, work, {"LOG_LEVEL": "warning"}, stack)
    png, wav, _ = samples(settings)
    requests = service_requests(service.base_url, png, wav, work)
    requests["media"] = Request(requests["similar"].url.replace("/similar", "/media"))
    check_requests({kind: requests[kind] for kind in MIX if kind != "media"})
    media = httpx.get(requests["media"].url, timeout=30)
    if media.status_code != 200 or not media.content.startswith(b"\x89PNG"):
        raise RuntimeError(f"media: {requests['media'].url} answered {media.status_code}")
    pids = {"service": service.pid, "weaviate": stk.weaviate_pid(settings)}

    log("warm-up (2% of the mix)...")
    run_mix(hey, requests, 0.02 * args.scale, args.max_seconds)
    start = {name: memory_mb(pid) for name, pid in pids.items()}
    log(f"soak: {sum(count(kind, args.scale) for kind in MIX):,} requests at concurrency 64...")
    t0 = time.perf_counter()
    images, labels = load_mnist(settings.data_dir, train=False)
    cases = costly_corpus([images[i] / 255.0 for i in range(6)], [int(labels[i]) for i in range(6)])
    costly = CostlyStream(f"{service.base_url}/search", cases, threading.Event())
    with PeakSampler(pids) as sampler:
        costly.thread.start()
        try:
            cells = run_mix(hey, requests, args.scale, args.max_seconds)
        finally:
            costly.stop.set()
            costly.thread.join()
    wall = time.perf_counter() - t0
    end = {name: memory_mb(pid) for name, pid in pids.items()}
    return {
        "index": index,
        "wall_s": round(wall, 1),
        "requests": sum(c.ok + c.non_2xx + c.errors for c in cells.values()),
        "status": {kind: c.status for kind, c in cells.items()},
        "cells": {kind: asdict(c) for kind, c in cells.items()},
        "memory_mb": {"start": start, "end": end, "peak": sampler.peaks},
        "costly": {
            name: {"status": dict(r["status"]), "max_s": round(r["max_s"], 3)}
            for name, r in costly.results.items()
        },
    }


def verdict(results: dict, max_growth_mb: float) -> list[str]:
    """What makes the soak fail: 5xx answers, transport errors, service memory growth."""
    problems = []
    for kind, cell in results["cells"].items():
        server_errors = sum(n for code, n in cell["status"].items() if code.startswith("5"))
        if server_errors:
            problems.append(f"{kind}: {server_errors} answers were 5xx ({cell['status']})")
        if cell["errors"]:
            problems.append(f"{kind}: {cell['errors']} transport errors ({cell['error_kinds']})")
        if cell["ok"] + cell["non_2xx"] + cell["errors"] < count(kind, results["scale"]):
            problems.append(f"{kind}: fewer answers than requests sent")
    for name, result in results["costly"].items():
        bad = {code: n for code, n in result["status"].items() if code.startswith(("5", "transport"))}
        if bad:
            problems.append(f"costly {name}: {bad}")
    grew = results["memory_mb"]["end"]["service"]["Rss"] - results["memory_mb"]["start"]["service"]["Rss"]
    if grew > max_growth_mb:
        problems.append(f"service RSS grew {grew:.0f} MB (limit {max_growth_mb:.0f} MB)")
    return problems


def report(results: dict) -> str:
    lines = [
        f"{results['requests']:,} requests in {results['wall_s']} s "
        f"({results['requests'] / results['wall_s']:.0f}/s), concurrency 64",
        "| kind | requests | 2xx | other | transport errors | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind, c in results["cells"].items():
        pct = [f"{c[p]:.0f}" if c[p] is not None else "-" for p in ("p50_ms", "p95_ms", "p99_ms")]
        total = c["ok"] + c["non_2xx"] + c["errors"]
        lines.append(
            f"| {kind} | {total:,} | {c['ok']:,} | {c['non_2xx']} | {c['errors']} | {c['rps']:.0f} | "
            + " | ".join(pct)
            + " |"
        )
    lines.append("| costly upload | answers | slowest s |")
    lines.append("|---|---|---|")
    for name, result in results["costly"].items():
        lines.append(f"| {name} | {result['status']} | {result['max_s']:.3f} |")
    mem = results["memory_mb"]
    for name in ("service", "weaviate"):
        lines.append(
            f"{name} RSS: {mem['start'][name]['Rss']:.0f} MB after warm-up, {mem['end'][name]['Rss']:.0f} MB"
            f" at the end, peak {mem['peak'][name].get('Rss', 0):.0f} MB"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="digitbridge-soak-") as tmp, ExitStack() as stack:
        results = soak(args, Path(tmp), stack) | {"scale": args.scale}
    problems = verdict(results, args.max_growth_mb)
    results["problems"] = problems
    sys.stdout.write(report(results) + "\n")
    if args.out is not None:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    for problem in problems:
        sys.stdout.write(f"FAIL: {problem}\n")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
