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
