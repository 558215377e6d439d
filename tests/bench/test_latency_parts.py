"""bench.latency_parts' arithmetic on answers' timings (single functions; the probe itself runs
under load in `python -m bench --only parts`)."""

import pytest

from bench.latency_parts import PARTS, parts_table, split, summarise


def test_an_answers_parts_add_up_to_what_the_client_waited() -> None:
    parts = split(50.0, {"total": 42.0, "decode": 10.0, "embed": 0.7, "search": 12.0})
    assert parts == {"latency": 50.0, "outside": 8.0, "decode": 10.0, "encoder": 20.0, "search": 12.0}
    assert parts["outside"] + parts["decode"] + parts["encoder"] + parts["search"] == pytest.approx(50.0)


def test_the_slowest_searches_are_told_apart_from_the_fast_half() -> None:
    # 95 searches that wait in decode for 10 ms, 5 that wait 200 ms there
    fast = [split(40.0, {"total": 35.0, "decode": 10.0, "embed": 1.0, "search": 15.0})] * 95
    slow = [split(230.0, {"total": 225.0, "decode": 200.0, "embed": 1.0, "search": 15.0})] * 5
    summary = summarise(fast + slow)
    assert summary["n"] == 100
    assert summary["percentiles"]["latency"]["p50"] == 40.0
    assert summary["percentiles"]["latency"]["p99"] == 230.0
    assert summary["slowest_5pct_mean"]["decode"] == 200.0  # the tail is the decode lane's
    assert summary["fastest_half_mean"]["decode"] == 10.0
    assert summary["slowest_5pct_mean"]["search"] == summary["fastest_half_mean"]["search"] == 15.0


def test_the_table_has_a_row_per_part_and_names_the_route_once() -> None:
    rows = [split(40.0 + i, {"total": 35.0, "decode": 10.0, "embed": 1.0, "search": 15.0}) for i in range(20)]
    lines = parts_table({"png": {"concurrency": 32} | summarise(rows)})
    body = [line for line in lines[2:] if line.startswith("|")]
    assert len(body) == len(PARTS)
    assert body[0].startswith("| PNG c = 32 | latency (client) |")
    assert all(line.startswith("|  |") for line in body[1:])
    assert lines[-1] == "Probed searches: PNG 20 (one client among the load's)."
