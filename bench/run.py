"""What `python -m bench` runs once its options are read: one stack (an embedded Weaviate with the
validation sets indexed, the service as a real process), the chosen sections on it in order,
their numbers into `results`. Everything started is registered on the caller's ExitStack."""

from __future__ import annotations

import argparse
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import log

ROOT = Path(__file__).resolve().parents[1]
# The same PNG and WAV searches served another way, in the same run as "http" (section: env).
VARIANTS: dict[str, dict[str, str]] = {
    "http_torch": {"ENCODER_RUNTIME": "torch"},  # PyTorch, what CPU serving ran before ONNX Runtime
    "http_workers2": {"WORKERS": "2"},  # two uvicorn processes reaching Weaviate as a remote server
    "http_before": {},  # served from --before-root (an older commit's checkout)
}
SECTIONS = ("http", "parts", *VARIANTS, "ceiling", "inproc", "recall", "scale", "resources")


def uses_hey(sections: list[str]) -> bool:
    """Does any section asked for drive HTTP load (a serving variant alone included)?"""
    return bool({"http", "parts", "ceiling", *VARIANTS} & set(sections))


def run_sections(args: argparse.Namespace, results: dict[str, Any], work: Path, stack: ExitStack) -> None:
    from bench import sections
    from bench import stack as stk
    from bench.load import install_hey
    from bench.resources import machine, memory_mb

    hey = install_hey() if uses_hey(args.sections) else None
    results["machine"] = machine(ROOT, hey.name.removeprefix("hey-") if hey else "not used")
    settings = stk.bench_settings(work / "weaviate")
    log(f"bench: device setting {settings.device}; starting Weaviate in {work}")
    client = stk.start_weaviate(settings, stack)
    w_pid = stk.weaviate_pid(settings)
    log("bench: indexing the validation sets")
    results["stack"] = {
        "index": stk.index_validation_sets(settings, client),
        "device_setting": settings.device,
    }
    collection = client.collections.get(settings.collection)
    pids = {"weaviate": w_pid}
    peaks: dict[str, dict[str, float]] = {}
    timer = _SectionTimer(results)

    service = None
    measures_memory = bool({"http", "resources"} & set(args.sections))  # "parts" alone leaves it
    if measures_memory or "parts" in args.sections:
        service = stk.start_service(settings, work, args.env, stack, root=args.service_root)
        pids["service"] = service.pid
        results["stack"]["service_ready_s"] = round(service.ready_s, 3)
        results["stack"]["service_device"] = _service_device(service.base_url)
        log(f"bench: service ready in {service.ready_s:.2f} s")
        time.sleep(1.0)  # let start-up allocations settle before "at rest"
        if measures_memory:
            results["resources"] = {"at_rest": {name: memory_mb(pid) for name, pid in pids.items()}}

    if "http" in args.sections and service is not None and hey is not None:
        with timer("http"):
            results["http"] = sections.http(args, hey, settings, service.base_url, work, pids, peaks)
    if "parts" in args.sections and service is not None and hey is not None:
        with timer("parts"):
            results["parts"] = sections.latency_parts(args, hey, settings, service.base_url, work)
    if "ceiling" in args.sections and hey is not None:
        with timer("ceiling"):
            results["ceiling"] = sections.ceiling(args, hey, settings, collection, work, pids, peaks)
    if service is not None:
        if measures_memory:
            results["resources"]["under_load_peak"] = peaks
        service.stop()  # the sections below run in this process: no idle service beside them
    for variant in VARIANTS:
        if variant in args.sections and hey is not None:
            with timer(variant):
                results[variant] = _http_variant(variant, args, hey, settings, work, w_pid, stack)
    if "inproc" in args.sections:
        with timer("inproc"):
            results["in_process"] = sections.in_process(args, settings, collection)
    if "recall" in args.sections:
        from bench.recall import index_config, run_recall

        with timer("recall"):
            results["recall"] = run_recall(collection, args.recall_queries) | {
                "index_config": index_config(collection)
            }
    if "scale" in args.sections:
        with timer("scale"):
            results["scale"] = sections.scale(args, client, settings, collection, w_pid)


def _http_variant(
    variant: str,
    args: argparse.Namespace,
    hey: Path,
    settings: Any,
    work: Path,
    w_pid: int,
    stack: ExitStack,
) -> dict[str, Any]:
    """The PNG and WAV searches served another way (VARIANTS), in the same run as "http": its
    throughput, latency and memory at rest and under load beside the service's own."""
    from bench import sections
    from bench import stack as stk
    from bench.resources import memory_mb

    env = {**args.env, **VARIANTS[variant]}
    root = args.before_root if variant == "http_before" else args.service_root
    service = stk.start_service(settings, work, env, stack, root=root)
    time.sleep(1.0)
    at_rest = memory_mb(service.pid)
    peaks: dict[str, dict[str, float]] = {}
    pids = {"weaviate": w_pid, "service": service.pid}
    measured = sections.http(args, hey, settings, service.base_url, work, pids, peaks, routes=("png", "wav"))
    service.stop()
    return measured | {
        "service_env": env,
        "service_root": str(root),
        "service_at_rest": at_rest,
        "under_load_peak": peaks,
        "ready_s": round(service.ready_s, 3),
    }


class _SectionTimer:
    def __init__(self, results: dict[str, Any]) -> None:
        self.results = results

    def __call__(self, name: str) -> _SectionTimer:
        self.name = name
        return self

    def __enter__(self) -> None:
        log(f"bench: {self.name}")
        self.t = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.results["meta"]["section_seconds"][self.name] = round(time.perf_counter() - self.t, 1)
        # Survives a later --only run of other sections: says which run each section comes from.
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        self.results.setdefault("measured_at", {})[self.name] = stamp
        # Which run measured it: tables compare sections of one run only (bench.report.same_run).
        self.results.setdefault("run_of", {})[self.name] = self.results["meta"]["started"]


def _service_device(base_url: str) -> str | None:
    import httpx

    try:
        return str(httpx.get(f"{base_url}/stats", timeout=10.0).json().get("device"))
    except (httpx.HTTPError, ValueError):
        return None
