"""results.json -> tables.md (Markdown for BENCHMARKS.md) and PNG plots, in the results folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import fmt, md_table
from bench.latency_parts import parts_table

ROUTE_NAMES = {
    "png": "PNG `/search`",
    "wav": "WAV `/search`",
    "batch4": "`/search/batch` (2 PNG + 2 WAV)",
    "similar": "`/items/{id}/similar`",
    "healthz": "`/healthz`",
    "weaviate_to_audio": "Weaviate GraphQL, filter audio (300)",
    "weaviate_to_image": "Weaviate GraphQL, filter image (10,000)",
    "weaviate_grpc_to_audio": "Weaviate gRPC (ghz), filter audio (300)",
    "weaviate_grpc_to_image": "Weaviate gRPC (ghz), filter image (10,000)",
}
INDEX_KEYS = ("distance", "ef", "ef_construction", "max_connections", "flat_search_cutoff", "filter_strategy")


def _spread(s: dict[str, float | None], digits: int = 1) -> str:
    """median (min–max) over repeats; the median alone when there is no spread."""
    if s["median"] is None or s["min"] == s["max"]:
        return fmt(s["median"], digits)
    return f"{fmt(s['median'], digits)} ({fmt(s['min'], digits)}–{fmt(s['max'], digits)})"


def _cpu(cell: dict) -> str:
    """CPU ms per answer: the service / Weaviate / the load generator (whichever were measured)."""
    cpu = cell.get("cpu_ms_per_request", {})
    names = ("service", "weaviate", "load_generator")
    return " / ".join(fmt(cpu[name], 2) for name in names if name in cpu) or "—"


def load_table(section: dict) -> list[str]:
    rows = []
    for route, cells in section["routes"].items():
        for c in cells:
            rows.append(
                [ROUTE_NAMES.get(route, route), str(c["concurrency"])]
                + [_spread(c[k]) for k in ("rps", "p50_ms", "p95_ms", "p99_ms")]
                + [f"{c['failed']} / {c['requests']:,}", _cpu(c)]
            )
    header = ["route", "c", "req/s", "p50 ms", "p95 ms", "p99 ms", "failed / requests", "CPU ms/answer"]
    return [
        *md_table(header, rows),
        "",
        "req/s counts 2xx answers only; — = hey printed no such percentile (under ~100 answers).",
        "CPU ms/answer: CPU time per answer of the service / Weaviate / the load generator (hey; ghz",
        "on the gRPC rows), medians over repeats; all of them share the machine's cores.",
    ]


VARIANT_NAMES = {  # bench.run.VARIANTS, as the tables call them
    "http": "this commit",
    "http_before": "before",
    "http_torch": "PyTorch engine",
    "http_workers2": "WORKERS=2",
}


def same_run(results: dict, section: str, other: str) -> bool:
    """Were both sections measured in one run of the bench (never compare across machine states)?"""
    runs = results.get("run_of", {})
    return section in runs and runs.get(section) == runs.get(other)


def served_in_http_run(results: dict) -> list[str]:
    """The VARIANT_NAMES keys measured in the same run as "http" ("http" first, when there)."""
    return [key for key in VARIANT_NAMES if key in results and same_run(results, key, "http")]


def variants_table(results: dict) -> list[str]:
    """The service as it runs beside the same searches served other ways, from one run."""
    served = served_in_http_run(results)
    rows = []
    for route in ("png", "wav"):
        concurrencies = {
            row["concurrency"] for key in served for row in results[key]["routes"].get(route, [])
        }
        for c in sorted(concurrencies):
            cells = [
                fmt(median_cell(results, key, route, c, k))
                for key in served
                for k in ("rps", "p50_ms", "p99_ms")
            ]
            rows.append([ROUTE_NAMES[route], str(c), *cells])
    header = ["route", "c"] + [f"{VARIANT_NAMES[key]} {k}" for key in served for k in ("req/s", "p50", "p99")]
    memory = []
    for key in served:
        rest, peak = service_memory(results, key)
        memory.append(
            f"- {VARIANT_NAMES[key]}: service RSS at rest {fmt(rest.get('Rss'), 0)} MB "
            f"(PSS {fmt(rest.get('Pss'), 0)}), peak under load {fmt(peak.get('Rss'), 0)} MB "
            f"(PSS {fmt(peak.get('Pss'), 0)})"
        )
    return [*md_table(header, rows), "", "Medians over repeats; ms.", "", *memory]


def service_memory(results: dict, key: str) -> tuple[dict, dict]:
    """A serving's service memory (MB by kind: Rss, Pss, ...) at rest and its peak under load;
    "http"'s is the resources section's, a variant's its own."""
    section = results[key] if key != "http" else {}
    resources = results.get("resources", {})
    rest = section.get("service_at_rest") or resources.get("at_rest", {}).get("service", {})
    peak = (section.get("under_load_peak") or resources.get("under_load_peak", {})).get("service", {})
    return rest, peak


def median_cell(results: dict, section: str, route: str, c: int, key: str) -> float | None:
    for row in results.get(section, {}).get("routes", {}).get(route, []):
        if row["concurrency"] == c:
            return row[key]["median"]
    return None


def _device(r: dict) -> str:
    return f"{r['device']}, {r.get('runtime', 'torch')}"


def in_process_tables(in_process: dict) -> list[str]:
    steps = ("decode", "embed", "search", "total")
    rows = [
        [_device(r), q.upper()] + [f"{s[k]['p50']:.2f}" for k in steps] + [f"{s['total']['p99']:.2f}"]
        for r in in_process.values()
        for q, s in r["pipeline_batch1"].items()
    ]
    header = ["engine", "query", "decode p50", "embed p50", "search p50", "total p50", "total p99"]
    embed_rows = [
        [_device(r), modality, str(e["batch"]), f"{e['ms_per_item_p50']:.3f}", f"{e['items_per_s']:,.0f}"]
        for r in in_process.values()
        for modality, es in r["embed_alone"].items()
        for e in es
    ]
    embed_header = ["engine", "encoder", "batch", "ms per item", "items/s"]
    return [*md_table(header, rows), "", *md_table(embed_header, embed_rows)]


def recall_table(recall: dict) -> list[str]:
    rows = [
        [
            key.replace("_to_", " → "),
            f"{r['queries']:,}",
            f"{r['recall_at_10']:.4f}",
            f"{r['recall_at_10_strict']:.4f}",
            str(r["queries_below_1"]),
        ]
        for key in ("image_to_audio", "audio_to_image")
        if (r := recall.get(key))
    ]
    header = ["direction", "queries", "recall@10", "strict (ties not counted)", "queries below 1"]
    shown = ", ".join(f"{k}={v}" for k, v in recall.get("index_config", {}).items() if k in INDEX_KEYS)
    return md_table(header, rows) + (["", f"Index settings: {shown}"] if shown else [])


def _latency(entry: dict, target: str) -> str:
    lm = entry.get(target, {}).get("latency_ms", {})
    return f"{fmt(lm.get('p50'), 2)} / {fmt(lm.get('p99'), 2)}"


def _scale_row(size: dict, layout: str, e: dict) -> list[str]:
    lat = [_latency(e, "to_audio"), _latency(e, "to_image")]
    if size.get("extrapolated"):
        growth = fmt(e.get("weaviate_rss_growth_mb"), 0)
        imports = [f"~{size['predicted_import_s']:,.0f} (the layouts run)", f"~{size['import_rate']:,.0f}"]
        return [f"{size['size']:,} (extrapolated)", layout, *imports, *lat, "—", f"~{growth}"]
    recall = " / ".join(fmt(e.get(t, {}).get("recall_at_10"), 4) for t in ("to_audio", "to_image"))
    rss = e["weaviate_memory_mb_after"].get("Rss", 0.0) - e["weaviate_memory_mb_before"].get("Rss", 0.0)
    name = f"{size['size']:,}" + (" (aborted)" if e["aborted"] else "")
    return [name, layout, f"{e['import_s']:,.1f}", f"{e['import_rate']:,.0f}", *lat, recall, f"{rss:,.0f}"]


def scale_table(scale: dict) -> list[str]:
    header = ["vectors", "layout", "import s", "objects/s", "→audio p50 / p99 ms", "→image p50 / p99 ms"]
    header += ["recall@10 →audio / →image", "Weaviate RSS growth MB"]
    rows = [_scale_row(s, layout, e) for s in scale.get("sizes", []) for layout, e in s["layouts"].items()]
    note = (
        f"Synthetic vectors: real embeddings plus Gaussian noise of norm {scale.get('noise_norm')} "
        "(the median nearest-neighbour distance among the real ones). Sequential queries through "
        f"the gRPC client, k=10. The section took {scale.get('seconds')} s. Extrapolated rows (a size "
        f"whose predicted import exceeded the budget of {scale.get('budget_s_per_size')} s): memory grows "
        "linearly with size, p50 latency along the log-size trend of the last two measured sizes; "
        "this does not model a filter crossing flatSearchCutoff (brute force below, HNSW above)."
    )
    sweep = [
        [f"{size['size']:,}", layout, ef, _latency(m, "to_audio"), _latency(m, "to_image"),
         " / ".join(fmt(m.get(t, {}).get("recall_at_10"), 4) for t in ("to_audio", "to_image"))]
        for size in scale.get("sizes", [])
        for layout, e in size["layouts"].items()
        for ef, m in e.get("ef_sweep", {}).items()
    ]  # fmt: skip
    if sweep:
        header_ef = ["vectors", "layout", "HNSW ef", "→audio p50 / p99 ms", "→image p50 / p99 ms"]
        note += " The same queries at other HNSW ef (set after the import; rows above: ef -1, dynamic):"
        return [
            *md_table(header, rows),
            "",
            note,
            "",
            *md_table([*header_ef, "recall@10 →audio / →image"], sweep),
        ]
    return [*md_table(header, rows), "", note]


def resources_table(resources: dict) -> list[str]:
    rows = [
        [name, state] + [fmt(m.get(k), 0) for k in ("Rss", "Pss", "Pss_Anon", "Pss_File")]
        for state, key in (("at rest", "at_rest"), ("under load (peak)", "under_load_peak"))
        for name, m in resources.get(key, {}).items()
        if m
    ]
    return md_table(["process", "state", "RSS MB", "PSS MB", "PSS anon MB", "PSS file-backed MB"], rows)


def _header(results: dict[str, Any]) -> list[str]:
    m, meta, stack = results.get("machine", {}), results.get("meta", {}), results.get("stack", {})
    lines = [
        "# `make bench` results",
        "",
        f"Command: `{meta.get('command')}` (quick: {meta.get('quick')}), started {meta.get('started')}, "
        f"{meta.get('total_seconds')} s in all; seconds per section: {meta.get('section_seconds')}.",
        "",
        f"Machine: {m.get('cpu')}, {m.get('usable_cores')} usable cores, {m.get('ram_gb')} GB RAM, "
        f"GPU: {m.get('gpu')}; load average at start {m.get('load_average_at_start')}. "
        f"Python {m.get('python')}, torch {m.get('torch')}, onnxruntime {m.get('onnxruntime')} "
        f"(one intra-op thread each), "
        f"Weaviate {m.get('weaviate_server')} (client {m.get('weaviate_client')}), hey {m.get('hey')}, "
        f"commit {m.get('commit')}.",
        "",
        f"Device: DEVICE={stack.get('device_setting')}, the service ran on {stack.get('service_device')}; "
        f"extra service environment: {meta.get('service_env') or 'none'}.",
        "",
    ]
    if index := stack.get("index"):
        lines += [
            f"Indexing {index['objects']:,} objects: {index['wall_s']:.1f} s "
            f"({index['objects'] / index['wall_s']:,.0f} objects/s end to end). "
            f"Service start to ready (`/readyz` 200): {fmt(stack.get('service_ready_s'), 2)} s.",
            "",
        ]
    return lines


SECTIONS: list[tuple[str, str, str, Callable[[dict], list[str]]]] = [
    # (title, results key, --only name, renderer)
    ("HTTP through the service (hey, closed loop, loopback; median (min–max) over repeats)", "http", "http",
     load_table),
    ("Where a search's time goes under load (one probe among hey's clients)", "parts", "parts", parts_table),
    ("Weaviate alone (nearVector + modality filter: GraphQL via hey, gRPC via ghz; no service)", "ceiling",
     "ceiling", load_table),
    ("In-process floor (sequential, batch 1; ms)", "in_process", "inproc", in_process_tables),
    ("Index accuracy (Weaviate top-10 vs exact cosine)", "recall", "recall", recall_table),
    ("Scale (synthetic 128-d vectors, ~97% images / 3% recordings)", "scale", "scale", scale_table),
    ("Memory", "resources", "resources", resources_table),
]  # fmt: skip


def markdown(results: dict[str, Any]) -> str:
    out = _header(results)
    for title, key, section, render in SECTIONS:
        if key in results:
            when = results.get("measured_at", {}).get(section)
            out += [
                f"## {title}",
                "",
                *([f"_measured {when}_", ""] if when else []),
                *render(results[key]),
                "",
            ]
    variants = [key for key in served_in_http_run(results) if key != "http"]
    if variants:
        stamps = results.get("measured_at", {})
        when = ", ".join(f"{VARIANT_NAMES[k]} {stamps[k]}" for k in ["http", *variants] if k in stamps)
        out += ["## The same searches served other ways", "",
                *([f"_measured {when}_", ""] if when else []), *variants_table(results), ""]  # fmt: skip
    from bench.targets import ratios, targets_table  # they read this module's cells

    if lines := ratios(results):
        out += ["## Ratios from the same run", "", *lines, ""]
    if lines := targets_table(results):
        out += ["## Against the serving targets (this run)", "", *lines, ""]
    return "\n".join(out)


def write_report(results: dict[str, Any], out: Path) -> None:
    from bench.plots import plot_all

    (out / "tables.md").write_text(markdown(results))
    plot_all(results, out)
