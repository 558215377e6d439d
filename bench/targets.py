"""The serving comparisons read off one bench run (tables.md's last two parts): the ratios
(HTTP vs in-process, the service vs Weaviate alone), and each serving target with, for every
serving measured beside "http" (this commit, WORKERS=2, ...), its number and whether it is met."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench import fmt, md_table
from bench.report import (
    VARIANT_NAMES,
    median_cell,
    same_run,
    served_in_http_run,
    service_memory,
)

# Where a PNG's and a WAV's vector goes in Weaviate alone (the ceiling section's routes).
GRAPHQL_CEILING = {"png": "weaviate_to_audio", "wav": "weaviate_to_image"}
GRPC_CEILING = {"png": "weaviate_grpc_to_audio", "wav": "weaviate_grpc_to_image"}


def ratios(results: dict) -> list[str]:
    """From one run: HTTP vs in-process, the service vs Weaviate alone."""
    lines = []
    in_process = results.get("in_process", {}) if same_run(results, "inproc", "http") else {}
    first_device: dict[str, Any] = next(iter(in_process.values()), {})
    floor = first_device.get("pipeline_batch1", {})
    same_ceiling = same_run(results, "ceiling", "http")
    for route in ("png", "wav"):
        http_p50 = median_cell(results, "http", route, 1, "p50_ms")
        inproc = floor.get(route, {}).get("total", {}).get("p50")
        if http_p50 and inproc:
            lines.append(
                f"- {route.upper()} at c=1: HTTP p50 {http_p50:.2f} ms / in-process p50 {inproc:.2f} ms "
                f"= **{http_p50 / inproc:.2f}×**"
            )
        svc = median_cell(results, "http", route, 32, "rps")
        ceiling = median_cell(results, "ceiling", GRAPHQL_CEILING[route], 32, "rps")
        grpc = median_cell(results, "ceiling", GRPC_CEILING[route], 32, "rps")
        health = median_cell(results, "http", "healthz", 32, "rps")
        if svc and ceiling and same_ceiling:
            line = f"- {route.upper()} at c=32: {svc:,.0f}/s = **{svc / ceiling:.0%}** of Weaviate alone"
            line += f" through GraphQL ({ceiling:,.0f}/s)"
            if grpc:
                line += f", **{svc / grpc:.0%}** of it through gRPC ({grpc:,.0f}/s)"
            if health:
                line += f", {svc / health:.0%} of `/healthz` ({health:,.0f}/s)"
            lines.append(line)
    return lines


@dataclass(frozen=True)
class Target:
    what: str  # the table's words for it
    limit: float
    at_least: bool  # True: the number must reach the limit; False: stay at or under it
    measure: Callable[[dict, str], float | None]  # (results, serving section) -> the number
    digits: int = 1

    def reading(self, results: dict, serving: str) -> str:
        value = self.measure(results, serving)
        if value is None:
            return "not measured"
        met = value >= self.limit if self.at_least else value <= self.limit
        return f"{fmt(value, self.digits)} ({'met' if met else 'missed'})"


def _load(route: str, c: int, key: str) -> Callable[[dict, str], float | None]:
    return lambda results, serving: median_cell(results, serving, route, c, key)


def _share_of_grpc_ceiling(route: str) -> Callable[[dict, str], float | None]:
    def measure(results: dict, serving: str) -> float | None:
        ceiling = median_cell(results, "ceiling", GRPC_CEILING[route], 32, "rps")
        served = median_cell(results, serving, route, 32, "rps")
        if not (ceiling and served and same_run(results, "ceiling", serving)):
            return None
        return served / ceiling

    return measure


def _memory(state: int) -> Callable[[dict, str], float | None]:
    return lambda results, serving: service_memory(results, serving)[state].get("Rss")


def _failed(results: dict, serving: str) -> float | None:
    cells = [c for route in ("png", "wav") for c in results[serving]["routes"].get(route, [])]
    return float(sum(c["failed"] for c in cells)) if cells else None


TARGETS = (
    Target("PNG searches/s, c = 32", 450, True, _load("png", 32, "rps")),
    Target("WAV searches/s, c = 32", 300, True, _load("wav", 32, "rps")),
    Target("PNG p99 ms, c = 32", 120, False, _load("png", 32, "p99_ms")),
    Target("WAV p99 ms, c = 32", 120, False, _load("wav", 32, "p99_ms")),
    Target("PNG p99 ms, c = 64", 250, False, _load("png", 64, "p99_ms")),
    Target("WAV p99 ms, c = 64", 250, False, _load("wav", 64, "p99_ms")),
    Target("PNG share of Weaviate's gRPC ceiling, c = 32", 0.8, True, _share_of_grpc_ceiling("png"), 2),
    Target("WAV share of Weaviate's gRPC ceiling, c = 32", 0.8, True, _share_of_grpc_ceiling("wav"), 2),
    Target("PNG p50 ms, c = 1", 4, False, _load("png", 1, "p50_ms")),
    Target("WAV p50 ms, c = 1", 5, False, _load("wav", 1, "p50_ms")),
    Target("service RSS MB at rest", 250, False, _memory(0), 0),
    Target("service RSS MB under load (peak)", 350, False, _memory(1), 0),
    Target("failed PNG and WAV searches", 0, False, _failed, 0),
)


def _limit(target: Target) -> str:
    return f"{'≥' if target.at_least else '≤'} {target.limit:g}"


def targets_table(results: dict) -> list[str]:
    """One row per target, one column per serving of the http run; [] when there was none."""
    served = served_in_http_run(results)
    if not served:
        return []
    header = ["target", "limit", *(VARIANT_NAMES[key] for key in served)]
    rows = [[t.what, _limit(t), *(t.reading(results, key) for key in served)] for t in TARGETS]
    lines = md_table(header, rows)
    recall = results.get("recall", {})
    if recall and same_run(results, "recall", "http"):
        found = ", ".join(
            f"{key.replace('_to_', ' → ')} {recall[key]['recall_at_10']:.4f}"
            for key in ("image_to_audio", "audio_to_image")
            if key in recall
        )
        lines += ["", f"Recall@10 against exact search, this run's index (target ≥ 0.99): {found}."]
    return lines
