"""Where a search's time goes under load (section `parts`).

hey holds `concurrency - 1` clients on one route while one probe client sends the same upload
in turn and reads each answer's own `timings_ms` (service/api/schemas.py `Timings`). Per probed
search, in ms:

* latency: what the probe waited, send to last byte;
* outside the handler: latency - total (uvicorn, the middlewares, serialisation, the sockets);
* decode: bytes -> tensor, the wait for a free preprocessing lane included;
* encoder: total - decode - search: reading the body, the wait for a forward pass, the pass;
* search: the Weaviate call, as the event loop saw it.

At saturation every stage is a queue; the parts say which queue a slow search waited in.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench import fmt, md_table
from bench.load import HEY_TIMEOUT_S, Request, hey_command

PARTS = ("latency", "outside", "decode", "encoder", "search")
LABELS = {
    "latency": "latency (client)",
    "outside": "outside the handler",
    "decode": "decode + lane wait",
    "encoder": "body + forward-pass wait + pass",
    "search": "Weaviate call",
}


def split(latency_ms: float, timings: dict[str, float]) -> dict[str, float]:
    """One answer's parts (see the module doc)."""
    total, decode, search = timings["total"], timings["decode"], timings["search"]
    return {
        "latency": latency_ms,
        "outside": latency_ms - total,
        "decode": decode,
        "encoder": total - decode - search,
        "search": search,
    }


def summarise(rows: list[dict[str, float]], slow_share: float = 0.05) -> dict[str, Any]:
    """p50/p90/p99 of each part, and each part's mean over the slowest `slow_share` of searches
    and over the faster half: which part the tail is made of."""
    table = {part: np.array([r[part] for r in rows]) for part in PARTS}
    latency = table["latency"]
    slow = latency >= np.percentile(latency, 100 * (1 - slow_share))
    fast = latency <= np.percentile(latency, 50)
    return {
        "n": len(rows),
        "percentiles": {
            part: {f"p{q}": round(float(np.percentile(v, q)), 2) for q in (50, 90, 99)}
            for part, v in table.items()
        },
        "slowest_5pct_mean": {part: round(float(v[slow].mean()), 2) for part, v in table.items()},
        "fastest_half_mean": {part: round(float(v[fast].mean()), 2) for part, v in table.items()},
    }


def probe_under_load(hey: Path, request: Request, concurrency: int, duration_s: float) -> dict[str, Any]:
    """hey at concurrency - 1 on `request`, one probe client beside it (the last of the clients)."""
    body = request.body.read_bytes() if request.body is not None else b""
    headers = {"Content-Type": request.content_type} if request.content_type else {}
    load = subprocess.Popen(
        hey_command(hey, request, concurrency - 1, duration_s),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    rows: list[dict[str, float]] = []
    settle_s = min(2.0, duration_s / 5)  # the load's ramp-up and wind-down are left out
    try:
        time.sleep(settle_s)
        stop = time.monotonic() + duration_s - 2 * settle_s
        with httpx.Client(timeout=HEY_TIMEOUT_S) as http:
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                answer = http.request(request.method, request.url, content=body, headers=headers)
                latency_ms = (time.perf_counter() - t0) * 1000.0
                if answer.status_code == 200:
                    rows.append(split(latency_ms, answer.json()["timings_ms"]))
    finally:
        load.wait(timeout=duration_s + HEY_TIMEOUT_S + 30)
    if not rows:
        raise RuntimeError(f"no probed search of {request.url} answered 200 under load")
    return {"concurrency": concurrency, "duration_s": duration_s} | summarise(rows)


def parts_table(section: dict[str, Any]) -> list[str]:
    """One row per route and part: percentiles, and the mean in the slowest 5% / fastest half."""
    rows = []
    for route, measured in section.items():
        for part in PARTS:
            p = measured["percentiles"][part]
            rows.append(
                [
                    f"{route.upper()} c = {measured['concurrency']}" if part == "latency" else "",
                    LABELS[part],
                    *(fmt(p[q]) for q in ("p50", "p90", "p99")),
                    fmt(measured["fastest_half_mean"][part]),
                    fmt(measured["slowest_5pct_mean"][part]),
                ]
            )
    header = ["route", "part (ms)", "p50", "p90", "p99", "mean, fastest half", "mean, slowest 5%"]
    n = ", ".join(f"{route.upper()} {m['n']}" for route, m in section.items())
    return [*md_table(header, rows), "", f"Probed searches: {n} (one client among the load's)."]
