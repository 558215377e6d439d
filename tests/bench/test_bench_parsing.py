"""The bench's readers of its load generators' reports, its CPU accounting and its tables
(single functions; the bench itself runs outside the suite: `make bench`)."""

import os
import time

import pytest

from bench.__main__ import parse_args
from bench.grpc_ceiling import parse_report
from bench.load import parse_summary
from bench.report import markdown
from bench.resources import cpu_seconds
from bench.run import uses_hey

HEY_SUMMARY = """
Summary:
  Total:\t10.0021 secs
  Requests/sec:\t200.5000

Latency distribution:
  10% in 0.0050 secs
  50% in 0.0100 secs
  95% in 0.0300 secs
  99% in 0.0450 secs

Status code distribution:
  [200]\t2000 responses
  [503]\t5 responses
"""


def test_hey_summary() -> None:
    cell = parse_summary(HEY_SUMMARY, 32)
    assert (cell.ok, cell.non_2xx, cell.errors) == (2000, 5, 0)
    assert cell.p50_ms == 10.0 and cell.p99_ms == 45.0
    assert abs(cell.rps - 2000 / 10.0021) < 1e-6


def test_ghz_report_leaves_out_the_calls_cut_off_at_the_end() -> None:
    closed = (
        "rpc error: code = Unavailable desc = error reading from server: use of closed network connection"
    )
    refused = "rpc error: code = Unavailable desc = connection refused"
    report = {
        "total": 2_000_000_000,
        "statusCodeDistribution": {"OK": 396, "Unavailable": 9},
        "errorDistribution": {closed: 7, refused: 2},
        "latencyDistribution": [
            {"percentage": 50, "latency": 16_000_000},
            {"percentage": 99, "latency": 70_000_000},
        ],
    }
    cell = parse_report(report, 8)
    assert cell.ok == 396 and cell.rps == 198.0
    assert cell.status == {"OK": 396, "Unavailable": 2} and cell.non_2xx == 2  # real failures stay
    assert cell.error_kinds == {refused: 2}
    assert cell.p50_ms == 16.0 and cell.p99_ms == 70.0


def test_cpu_seconds_counts_this_process() -> None:
    before = cpu_seconds(os.getpid())
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:
        pass
    assert cpu_seconds(os.getpid()) - before >= 0.1


def cell(rps: float) -> dict:
    spread = {"median": rps, "min": rps, "max": rps}
    return {
        "concurrency": 32,
        "repeats": 1,
        "rps": spread,
        "p50_ms": spread,
        "p95_ms": spread,
        "p99_ms": spread,
        "requests": 100,
        "failed": 0,
        "cpu_ms_per_request": {"service": 5.0, "weaviate": 1.5, "load_generator": 0.4},
    }


def test_tables_show_variants_ratios_and_cpu() -> None:
    run = {"http": "t0", "http_workers2": "t0", "ceiling": "t0", "http_before": "an earlier run"}
    results = {
        "run_of": run,
        "http_before": {"routes": {"png": [cell(1.0)]}},  # another run's: never beside these
        "http": {"routes": {"png": [cell(200.0)], "wav": [cell(150.0)]}},
        "http_workers2": {
            "routes": {"png": [cell(260.0)], "wav": [cell(180.0)]},
            "service_at_rest": {"Rss": 500},
        },
        "ceiling": {
            "routes": {
                "weaviate_to_audio": [cell(400.0)],
                "weaviate_grpc_to_audio": [cell(800.0)],
                "weaviate_to_image": [cell(300.0)],
            }
        },
    }
    text = markdown(results)
    assert "| PNG `/search` | 32 | 200.0 | 200.0 | 200.0 | 260.0 | 260.0 | 260.0 |" in text
    assert "**50%** of Weaviate alone through GraphQL (400/s), **25%** of it through gRPC (800/s)" in text
    assert "5.00 / 1.50 / 0.40" in text  # CPU ms per answer: service / Weaviate / load generator
    assert "WORKERS=2: service RSS at rest 500 MB" in text
    assert "before" not in text


def test_scale_layouts_default_to_both_and_refuse_unknown_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_args([]).scale_layouts == ["filter", "per_modality"]
    assert parse_args(["--scale-layouts", "per_modality"]).scale_layouts == ["per_modality"]
    with pytest.raises(SystemExit):
        parse_args(["--scale-layouts", "filter,hnsw"])
    assert "unknown layouts ['hnsw']; choose from filter,per_modality" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["--scale-layouts", ","])
    assert "name at least one layout: filter,per_modality" in capsys.readouterr().err


def test_a_serving_variant_alone_still_gets_its_load_generator() -> None:
    assert uses_hey(["http_workers2"])  # it was skipped without a word when run alone
    assert uses_hey(["ceiling", "recall"])
    assert not uses_hey(["inproc", "recall", "scale"])


def load_cell(c: int, rps: float, p50: float, p99: float, failed: int = 0) -> dict:
    return cell(rps) | {
        "concurrency": c,
        "p50_ms": {"median": p50, "min": p50, "max": p50},
        "p99_ms": {"median": p99, "min": p99, "max": p99},
        "failed": failed,
    }


def recall(at_10: float) -> dict:
    return {"queries": 300, "recall_at_10": at_10, "recall_at_10_strict": at_10, "queries_below_1": 0}


def test_targets_table_reads_each_serving_of_one_run() -> None:
    results = {
        "run_of": {"http": "t0", "http_workers2": "t0", "ceiling": "t0", "recall": "t0"},
        "http": {"routes": {
            "png": [load_cell(1, 250.0, 3.5, 6.0), load_cell(32, 400.0, 70.0, 130.0)],
            "wav": [load_cell(32, 310.0, 90.0, 110.0, failed=2)],
        }},
        "resources": {"at_rest": {"service": {"Rss": 240}}, "under_load_peak": {"service": {"Rss": 360}}},
        "http_workers2": {
            "routes": {"png": [load_cell(32, 500.0, 60.0, 100.0)]},
            "service_at_rest": {"Rss": 590},
        },
        "ceiling": {"routes": {"weaviate_grpc_to_audio": [cell(1000.0)]}},
        "recall": {
            "image_to_audio": recall(1.0),
            "audio_to_image": recall(0.995),
        },
    }  # fmt: skip
    text = markdown(results)
    assert "| PNG searches/s, c = 32 | ≥ 450 | 400.0 (missed) | 500.0 (met) |" in text
    assert "| WAV searches/s, c = 32 | ≥ 300 | 310.0 (met) | not measured |" in text
    assert "| PNG share of Weaviate's gRPC ceiling, c = 32 | ≥ 0.8 | 0.40 (missed) | 0.50 (missed) |" in text
    assert "| PNG p50 ms, c = 1 | ≤ 4 | 3.5 (met) | not measured |" in text
    assert "| service RSS MB at rest | ≤ 250 | 240 (met) | 590 (missed) |" in text
    assert "| service RSS MB under load (peak) | ≤ 350 | 360 (missed) |" in text
    assert "| failed PNG and WAV searches | ≤ 0 | 2 (missed) | 0 (met) |" in text
    assert "image → audio 1.0000, audio → image 0.9950" in text


def test_no_targets_table_without_an_http_run() -> None:
    assert "targets" not in markdown({"run_of": {"recall": "t0"}, "recall": {}})
