"""PNG plots from results.json: latency and throughput vs concurrency per route; import rate and
query latency vs collection size."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402


def _series(rows: list[dict], key: str) -> tuple[list[int], list[float], list[list[float]]]:
    rows = [r for r in rows if r[key]["median"] is not None]
    xs = [r["concurrency"] for r in rows]
    med = [r[key]["median"] for r in rows]
    err = [
        [m - r[key]["min"] for m, r in zip(med, rows, strict=True)],
        [r[key]["max"] - m for m, r in zip(med, rows, strict=True)],
    ]
    return xs, med, err


def plot_load(results: dict[str, Any], out: Path) -> None:
    routes = {**results.get("http", {}).get("routes", {}), **results.get("ceiling", {}).get("routes", {})}
    if not routes:
        return
    from bench.report import ROUTE_NAMES

    fig, (lat, thr) = plt.subplots(1, 2, figsize=(13, 5))
    for route, rows in routes.items():
        label = ROUTE_NAMES.get(route, route).replace("`", "")
        xs, p99, err = _series(rows, "p99_ms")
        line = lat.errorbar(xs, p99, yerr=err, marker="o", capsize=3, label=f"{label} p99")
        xs, p50, _ = _series(rows, "p50_ms")
        lat.plot(xs, p50, linestyle="--", marker=".", color=line[0].get_color())
        xs, rps, err = _series(rows, "rps")
        thr.errorbar(xs, rps, yerr=err, marker="o", capsize=3, label=label)
    levels = sorted({r["concurrency"] for rows in routes.values() for r in rows})
    for ax, ylabel in ((lat, "latency, ms (solid p99, dashed p50)"), (thr, "answers/s (2xx)")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(levels, [str(c) for c in levels])
        ax.set_yscale("log")
        ax.set_xlabel("concurrency (hey workers)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    thr.legend(fontsize=8)
    lat.legend(fontsize=7)
    fig.suptitle("Latency and throughput vs concurrency (median over repeats, bars: min–max)")
    fig.tight_layout()
    fig.savefig(out / "latency_vs_concurrency.png", dpi=110)
    plt.close(fig)


def _scale_points(sizes: list[dict], layout: str, target: str, key: str) -> list[tuple[int, float]]:
    return [
        (s["size"], s["layouts"][layout][target]["latency_ms"][key])
        for s in sizes
        if key in s["layouts"].get(layout, {}).get(target, {}).get("latency_ms", {})
    ]


def plot_scale(results: dict[str, Any], out: Path) -> None:
    sizes = [s for s in results.get("scale", {}).get("sizes", []) if not s.get("aborted")]
    measured = [s for s in sizes if not s.get("extrapolated")]
    if not measured:
        return
    fig, (imp, lat) = plt.subplots(1, 2, figsize=(12, 5))
    for layout in ("filter", "per_modality"):
        pts = [(s["size"], s["layouts"][layout]["import_rate"]) for s in measured if layout in s["layouts"]]
        imp.plot(*zip(*pts, strict=True), marker="o", label=layout)
        for target in ("to_audio", "to_image"):
            p50 = _scale_points(measured, layout, target, "p50")
            if not p50:
                continue
            line = lat.plot(*zip(*p50, strict=True), marker="o", label=f"{layout} {target} p50")
            color = line[0].get_color()
            p99 = _scale_points(measured, layout, target, "p99")
            lat.plot(*zip(*p99, strict=True), linestyle="--", marker="x", color=color)
            guess = _scale_points(sizes, layout, target, "p50")[len(p50) - 1 :]
            if len(guess) > 1:  # the extrapolated sizes: dotted, hollow markers
                lat.plot(*zip(*guess, strict=True), linestyle=":", marker="o", mfc="none", color=color)
    for ax in (imp, lat):
        ax.set_xscale("log")
        ax.set_xlabel("vectors in the collection")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    lat.set_yscale("log")
    imp.set_ylabel("import rate, objects/s")
    lat.set_ylabel("query latency, ms")
    lat.set_title("solid p50, dashed p99, dotted: extrapolated p50", fontsize=9)
    imp.set_title("each layout, until the vector queue is empty", fontsize=9)
    fig.suptitle("Weaviate at scale: modality filter vs one collection per modality")
    fig.tight_layout()
    fig.savefig(out / "scale.png", dpi=110)
    plt.close(fig)


def plot_all(results: dict[str, Any], out: Path) -> None:
    plot_load(results, out)
    plot_scale(results, out)
