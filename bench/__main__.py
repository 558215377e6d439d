"""`python -m bench` (`make bench`): start a private stack, measure, write bench/results/.

Sections (run in this order; `--only` / `--skip` pick them):
  http       hey against the service: PNG, WAV, 4-file batch, similar, /healthz at each concurrency
  ceiling    hey against Weaviate's GraphQL endpoint alone (the filtered nearVector query), both targets
  inproc     the floor: decode + embed + store.search in this process at batch 1; embed at batch 1 and 64
  recall     Weaviate's top-10 vs exact cosine top-10 for every validation item, both ways
  scale      synthetic collections of 100k..1M vectors: import rate, latency, recall, Weaviate memory
  resources  RSS/PSS of the service and Weaviate at rest (under-load peaks come from http/ceiling)
The stack: an embedded Weaviate on free ports with a temporary data folder, the validation sets
indexed with the project's indexer, and `python -m launcher` as a child process. All of it
is stopped at the end, on errors and on Ctrl-C. DEVICE (auto/cpu/cuda) comes from the settings.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import SCALE_LAYOUTS, log

ROOT = Path(__file__).resolve().parents[1]
# The same PNG and WAV searches served another way, in the same run as "http" (section: env).
VARIANTS: dict[str, dict[str, str]] = {
    "http_torch": {"ENCODER_RUNTIME": "torch"},  # PyTorch, what CPU serving ran before ONNX Runtime
    "http_workers2": {"WORKERS": "2"},  # two uvicorn processes reaching Weaviate as a remote server
    "http_before": {},  # served from --before-root (an older commit's checkout)
}
SECTIONS = ("http", *VARIANTS, "ceiling", "inproc", "recall", "scale", "resources")


def _ints(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x.strip()]


def _names(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    """A comma-separated list of names, each one of `allowed`."""
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = set(names) - set(allowed)
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown {what} {sorted(unknown)}; choose from {','.join(allowed)}")
    return names


def _sections(text: str) -> list[str]:
    return _names(text, SECTIONS, "sections")


def _layouts(text: str) -> list[str]:
    names = _names(text, SCALE_LAYOUTS, "layouts")
    if not names:  # a scale run imports at least one layout
        raise argparse.ArgumentTypeError(f"name at least one layout: {','.join(SCALE_LAYOUTS)}")
    return names


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("--only", type=_sections, help=f"comma-separated sections to run ({','.join(SECTIONS)})")
    p.add_argument("--skip", type=_sections, default=[], help="comma-separated sections to leave out")
    p.add_argument("--quick", action="store_true", help="smoke run: ~1 s per cell, 1 repeat, scale 20,000")
    p.add_argument(
        "--concurrency", type=_ints, default=[1, 8, 32, 64], help="hey workers per cell (1,8,32,64)"
    )
    p.add_argument("--duration", type=float, help="seconds per hey cell (10; quick 1)")
    p.add_argument("--repeats", type=int, help="runs of each cell, interleaved (3; quick 1)")
    p.add_argument("--warmup", type=float, help="seconds of unrecorded load per route first (2; quick 0.5)")
    p.add_argument(
        "--inproc-requests", type=int, help="sequential in-process searches per modality (300; quick 30)"
    )
    p.add_argument(
        "--inproc-threads",
        type=int,
        default=1,
        help="torch intra-op threads of the CPU floor (1, as the service)",
    )
    p.add_argument("--embed-budget", type=float, help="seconds per embed-alone measurement (3; quick 0.5)")
    p.add_argument("--recall-queries", type=int, help="queries per direction (all; quick 300)")
    p.add_argument("--scale-sizes", type=_ints, help="collection sizes (100000,300000,1000000; quick 20000)")
    p.add_argument("--scale-budget", type=float, default=900.0, help="max import seconds per size (900)")
    p.add_argument(
        "--scale-ef",
        type=_ints,
        default=[],
        help="HNSW ef values to query each scale collection at as well, e.g. 64,128,256 (none)",
    )
    p.add_argument(
        "--scale-layouts",
        type=_layouts,
        default=list(SCALE_LAYOUTS),
        help="index layouts to import at each scale size (filter,per_modality)",
    )
    p.add_argument("--scale-queries", type=int, help="queries per target and size (200; quick 50)")
    p.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment for the service, e.g. WORKERS=2 (repeatable)",
    )
    p.add_argument(
        "--service-root",
        type=Path,
        default=ROOT,
        help="serve from this checkout, e.g. a git worktree of an older commit (before/after)",
    )
    p.add_argument(
        "--before-root",
        type=Path,
        help="section http_before serves from this checkout: git worktree add /tmp/before <commit>",
    )
    p.add_argument("--out", type=Path, help="results folder (bench/results; quick: a temporary folder)")
    p.add_argument("--keep-work", action="store_true", help="keep the temporary Weaviate data and logs")
    args = p.parse_args(argv)
    defaults = {  # (full run, --quick)
        "duration": (10.0, 1.0),
        "repeats": (3, 1),
        "warmup": (2.0, 0.5),
        "inproc_requests": (300, 30),
        "embed_budget": (3.0, 0.5),
        "recall_queries": (None, 300),
        "scale_queries": (200, 50),
        "scale_sizes": ([100_000, 300_000, 1_000_000], [20_000]),
        "out": (ROOT / "bench" / "results", Path(tempfile.gettempdir()) / "digitbridge-bench-quick"),
    }
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    args.sections = [s for s in (args.only or SECTIONS) if s not in args.skip]
    args.env = dict(kv.split("=", 1) for kv in args.service_env)
    if "http_before" in args.sections and args.before_root is None:
        if args.only:
            p.error("section http_before needs --before-root")
        args.sections.remove("http_before")  # a full run without an older checkout skips it
    return args


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt  # unwinds through the ExitStack like Ctrl-C


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    started = time.perf_counter()
    results: dict[str, Any] = _previous(args) if args.only else {}
    results["meta"] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "quick": args.quick,
        "sections": args.sections,
        "service_env": args.env,
        "service_root": str(args.service_root),
        "section_seconds": {},
    }
    work = Path(tempfile.mkdtemp(prefix="digitbridge-bench-"))
    try:
        with ExitStack() as stack:
            _run(args, results, work, stack)
    except KeyboardInterrupt:
        log("bench: interrupted; everything it started is stopped")
        return 130
    except Exception:
        _show_service_log(work)
        raise
    finally:
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"bench: work folder kept at {work}")
    results["meta"]["total_seconds"] = round(time.perf_counter() - started, 1)
    _write(args.out, results)
    log(f"bench: done in {results['meta']['total_seconds']:.0f} s; results in {args.out}")
    return 0


def uses_hey(sections: list[str]) -> bool:
    """Does any section asked for drive HTTP load (a serving variant alone included)?"""
    return bool({"http", "ceiling", *VARIANTS} & set(sections))


def _run(args: argparse.Namespace, results: dict[str, Any], work: Path, stack: ExitStack) -> None:
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
    if {"http", "resources"} & set(args.sections):
        service = stk.start_service(settings, work, args.env, stack, root=args.service_root)
        pids["service"] = service.pid
        results["stack"]["service_ready_s"] = round(service.ready_s, 3)
        results["stack"]["service_device"] = _service_device(service.base_url)
        log(f"bench: service ready in {service.ready_s:.2f} s")
        time.sleep(1.0)  # let start-up allocations settle before "at rest"
        results["resources"] = {"at_rest": {name: memory_mb(pid) for name, pid in pids.items()}}

    if "http" in args.sections and service is not None and hey is not None:
        with timer("http"):
            results["http"] = sections.http(args, hey, settings, service.base_url, work, pids, peaks)
    if "ceiling" in args.sections and hey is not None:
        with timer("ceiling"):
            results["ceiling"] = sections.ceiling(args, hey, settings, collection, work, pids, peaks)
    if service is not None:
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


def _previous(args: argparse.Namespace) -> dict[str, Any]:
    """With --only, the sections not run keep their numbers from the last run in --out."""
    path = args.out / "results.json"
    return json.loads(path.read_text()) if path.exists() else {}


def _write(out: Path, results: dict[str, Any]) -> None:
    from bench.report import write_report

    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    write_report(results, out)


def _show_service_log(work: Path) -> None:
    log_path = work / "service.log"
    if log_path.exists():
        log("bench: last lines of the service log:\n" + "\n".join(log_path.read_text().splitlines()[-30:]))


if __name__ == "__main__":
    sys.exit(main())
