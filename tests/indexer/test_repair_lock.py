"""Every repairer takes the one repair lock: the indexer's end check waits while another
holder (here this test, in the supervisor's place) checks or repairs the same collection."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import store
from indexer import pipeline
from store.integrity import repair_lock
from tests.indexer.test_indexer_run import indexer_settings


def stack_of(thread: threading.Thread) -> list[str]:
    frame = sys._current_frames().get(thread.ident or -1)
    names = []
    while frame is not None:
        names.append(frame.f_code.co_name)
        frame = frame.f_back
    return names


def test_the_indexers_end_check_waits_for_the_repair_lock(
    weaviate_settings: store.StoreSettings, plumbing_checkpoint: Path
) -> None:
    settings = indexer_settings(
        weaviate_settings, "IdxLocked", plumbing_checkpoint, index_limit=10, recreate=True
    )
    reports: list[pipeline.Report] = []
    run = threading.Thread(target=lambda: reports.append(pipeline.run(settings, progress=False)))
    with repair_lock(settings, "IdxLocked"):
        run.start()
        deadline = time.monotonic() + 120
        while "repair_lock" not in stack_of(run):
            assert run.is_alive(), "the run ended without waiting for the repair lock"
            assert time.monotonic() < deadline, "the run never reached its vector-index check"
            time.sleep(0.05)
        time.sleep(1.0)
        assert "repair_lock" in stack_of(run) and not reports  # still waiting, nothing interleaved
    run.join(120)
    (report,) = reports
    assert report.ok, (report.failures[:5], report.problems)
    assert report.written == 20
