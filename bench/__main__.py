"""`python -m bench` (`make bench`): start a private stack, measure, write bench/results/.

Sections (run in this order; `--only` / `--skip` pick them):
  http       hey against the service: PNG, WAV, 4-file batch, similar, /healthz at each concurrency
  parts      where a PNG and a WAV search's time goes at c = 32: one probe reads each answer's timings
  ceiling    hey against Weaviate's GraphQL endpoint alone (the filtered nearVector query), both targets
  inproc     the floor: decode + embed + store.search in this process at batch 1; embed at batch 1 and 64
  recall     Weaviate's top-10 vs exact cosine top-10 for every validation item, both ways
  scale      synthetic collections of 100k..1M vectors: import rate, latency, recall, Weaviate memory
  resources  RSS/PSS of the service and Weaviate at rest (under-load peaks come from http/ceiling)
The stack (bench/run.py): an embedded Weaviate on free ports with a temporary data folder, the validation sets
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
from bench.run import SECTIONS, run_sections

ROOT = Path(__file__).resolve().parents[1]


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
            run_sections(args, results, work, stack)
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
