"""The native load generator: install `hey`, write request bodies, run one cell, parse the summary.

hey is a closed-loop client: `concurrency` workers each send a request, wait for the answer and
send the next, for a fixed duration. Its text summary carries everything a cell needs (the CSV
output leaves connection errors out): total time, the latency percentiles of every answer, the
status code counts and the transport errors.
"""

from __future__ import annotations

import functools
import re
import resource
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from statistics import median

from bench import log

ROOT = Path(__file__).resolve().parents[1]
BOUNDARY = "digitbridge-bench-" + uuid.UUID(int=0x5EED).hex  # fixed: bodies are byte-identical per run


def install_go_tool(name: str) -> Path:
    """Path of a pinned Go tool ("hey", "ghz"), built first when absent (scripts/build_go_tool.sh)."""
    script = str(ROOT / "scripts" / "build_go_tool.sh")
    out = subprocess.run([script, name], check=True, capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


def install_hey() -> Path:
    return install_go_tool("hey")


@dataclass(frozen=True)
class Part:
    field: str
    filename: str
    content_type: str
    data: bytes


def multipart_body(parts: list[Part]) -> bytes:
    """A multipart/form-data body with the fixed BOUNDARY (send it with CONTENT_TYPE)."""
    chunks = []
    for p in parts:
        head = (
            f"--{BOUNDARY}\r\n"
            f'Content-Disposition: form-data; name="{p.field}"; filename="{p.filename}"\r\n'
            f"Content-Type: {p.content_type}\r\n\r\n"
        )
        chunks += [head.encode(), p.data, b"\r\n"]
    chunks.append(f"--{BOUNDARY}--\r\n".encode())
    return b"".join(chunks)


CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


@dataclass(frozen=True)
class Request:
    """What hey sends: a URL, and for a POST a body file and its content type."""

    url: str
    method: str = "GET"
    body: Path | None = None
    content_type: str | None = None
    headers: tuple[str, ...] = ()


@dataclass
class Cell:
    """One hey run: `concurrency` workers for `duration_s` seconds."""

    concurrency: int
    seconds: float = 0.0
    ok: int = 0  # 2xx answers
    non_2xx: int = 0
    errors: int = 0  # transport errors: refused, reset, timeout
    rps: float = 0.0  # 2xx answers per second
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    status: dict[str, int] = field(default_factory=dict)
    error_kinds: dict[str, int] = field(default_factory=dict)
    # CPU milliseconds per answer of each process under test and of the load generator: where the
    # machine's cores went, which req/s alone cannot say on a machine they all share
    cpu_ms_per_request: dict[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return self.non_2xx + self.errors


_PERCENTILE = re.compile(r"^\s*(\d+)% in ([\d.]+) secs", re.M)
_STATUS = re.compile(r"^\s*\[(\d{3})\]\s+(\d+) responses", re.M)
_ERROR = re.compile(r"^\s*\[(\d+)\]\s+(.+)$", re.M)
_TOTAL = re.compile(r"^\s*Total:\s+([\d.]+) secs", re.M)


def parse_summary(text: str, concurrency: int) -> Cell:
    """Read hey's default (text) summary into a Cell."""
    cell = Cell(concurrency)
    total = _TOTAL.search(text)
    if total is None:
        raise ValueError(f"hey printed no summary:\n{text[-2000:]}")
    cell.seconds = float(total.group(1))
    # hey prints 0 for a percentile it never reached (fewer than ~100 answers for p99): unknown.
    percentiles = {int(p): float(s) * 1000.0 for p, s in _PERCENTILE.findall(text) if float(s) > 0}
    cell.p50_ms, cell.p95_ms, cell.p99_ms = (percentiles.get(p) for p in (50, 95, 99))
    cell.status = {code: int(n) for code, n in _STATUS.findall(text)}
    cell.ok = sum(n for code, n in cell.status.items() if code.startswith("2"))
    cell.non_2xx = sum(cell.status.values()) - cell.ok
    if "Error distribution:" in text:
        errors_part = text.split("Error distribution:", 1)[1]
        cell.error_kinds = {msg.strip(): int(n) for n, msg in _ERROR.findall(errors_part)}
    cell.errors = sum(cell.error_kinds.values())
    cell.rps = cell.ok / cell.seconds if cell.seconds > 0 else 0.0
    return cell


HEY_TIMEOUT_S = 30  # per request: a slower answer counts as an error


def hey_command(hey: Path, request: Request, concurrency: int, duration_s: float) -> list[str]:
    """hey's command line for one closed-loop run of `request` (its summary printed as text)."""
    cmd = [str(hey), "-z", f"{duration_s}s", "-c", str(concurrency), "-t", str(HEY_TIMEOUT_S)]
    cmd += ["-m", request.method]
    if request.body is not None:
        cmd += ["-D", str(request.body)]
    if request.content_type is not None:
        cmd += ["-T", request.content_type]
    for header in request.headers:
        cmd += ["-H", header]
    return [*cmd, request.url]


def run_cell(hey: Path, request: Request, concurrency: int, duration_s: float) -> Cell:
    """One closed-loop run; never longer than the duration plus the request timeout and slack."""
    out = subprocess.run(
        hey_command(hey, request, concurrency, duration_s),
        capture_output=True,
        text=True,
        timeout=duration_s + HEY_TIMEOUT_S + 30,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"hey failed ({out.returncode}): {out.stderr[-2000:]}")
    return parse_summary(out.stdout, concurrency)


# One load generator run: (concurrency, duration_s) -> Cell (hey here, ghz in bench/grpc_ceiling.py)
Runner = Callable[[int, float], Cell]


def hey_runner(hey: Path, request: Request) -> Runner:
    return functools.partial(run_cell, hey, request)


def measured_cell(run: Runner, concurrency: int, duration_s: float, pids: dict[str, int]) -> Cell:
    """One run, with the CPU time each process and the load generator spent on it, per answer."""
    from bench.resources import cpu_seconds

    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)  # the generator: our finished child
    cell = run(concurrency, duration_s)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    spent = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    spent["load_generator"] = (children_after.ru_utime + children_after.ru_stime) - (
        children_before.ru_utime + children_before.ru_stime
    )
    answers = max(cell.ok + cell.non_2xx, 1)
    cell.cpu_ms_per_request = {name: round(1000.0 * s / answers, 3) for name, s in spent.items()}
    return cell


def summarise(cells: list[Cell]) -> dict:
    """Repeats of one (route, concurrency): the median and the min-max spread of each number."""

    def spread(values: list[float | None]) -> dict[str, float | None]:
        known = [v for v in values if v is not None]
        if not known:
            return {"median": None, "min": None, "max": None}
        return {"median": median(known), "min": min(known), "max": max(known)}

    return {
        "concurrency": cells[0].concurrency,
        "repeats": len(cells),
        "rps": spread([c.rps for c in cells]),
        "p50_ms": spread([c.p50_ms for c in cells]),
        "p95_ms": spread([c.p95_ms for c in cells]),
        "p99_ms": spread([c.p99_ms for c in cells]),
        "requests": sum(c.ok + c.non_2xx for c in cells),
        "failed": sum(c.failed for c in cells),
        "cpu_ms_per_request": {
            name: median(c.cpu_ms_per_request[name] for c in cells) for name in cells[0].cpu_ms_per_request
        },
        "cells": [asdict(c) for c in cells],
    }


def run_matrix(
    runners: dict[str, Runner],
    concurrencies: list[int],
    duration_s: float,
    repeats: int,
    pids: dict[str, int],
    warmup_s: float = 2.0,
) -> tuple[dict[str, list[dict]], dict[str, dict[str, float]]]:
    """Every (route, concurrency) cell `repeats` times, repeats interleaved so that a slow minute
    of a shared machine spreads over all cells instead of spoiling one.

    Returns {route: [summary per concurrency]} and the peak memory of `pids` under load.
    """
    from bench.resources import PeakSampler, merge_peaks

    for name, run in runners.items():  # warm caches and connection pools; not recorded
        run(max(concurrencies), warmup_s)
        log(f"  warm-up {name}: done")
    cells: dict[tuple[str, int], list[Cell]] = {}
    peaks: dict[str, dict[str, float]] = {}
    cell_peaks: dict[tuple[str, int], dict[str, dict[str, float]]] = {}
    for rep in range(repeats):
        for name, run in runners.items():
            for c in concurrencies:
                with PeakSampler(pids) as sampler:
                    cell = measured_cell(run, c, duration_s, pids)
                cells.setdefault((name, c), []).append(cell)
                merge_peaks(peaks, sampler.peaks)
                merge_peaks(cell_peaks.setdefault((name, c), {}), sampler.peaks)
                log(
                    f"  [{rep + 1}/{repeats}] {name:>17} c={c:<3} {cell.rps:8.1f}/s"
                    f"  p50 {cell.p50_ms or 0:7.1f} ms  p99 {cell.p99_ms or 0:7.1f} ms  failed {cell.failed}"
                )
    out: dict[str, list[dict]] = {}
    for (name, c), runs in cells.items():
        summary = summarise(runs)
        summary["peak_memory_mb"] = cell_peaks[(name, c)]
        out.setdefault(name, []).append(summary)
    return out, peaks
