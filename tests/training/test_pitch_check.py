"""training.pitch_check on the committed checkpoint: every condition measured, and the unchanged
takes scored as the evaluation scores them."""

import json
from pathlib import Path

from models.settings import DEFAULT_CHECKPOINT
from training.pitch_check import FACTORS, accuracy_by_condition, main


def test_the_unchanged_takes_score_as_the_committed_evaluation_says():
    scores = accuracy_by_condition(str(DEFAULT_CHECKPOINT))
    assert set(scores) == {"as recorded"} | {f"{kind} x{f}" for kind in ("pitch", "speed") for f in FACTORS}
    assert all(0.0 <= value <= 1.0 for value in scores.values())
    committed = json.loads(Path("models/metrics.json").read_text())["accuracy"]["audio"]
    assert round(scores["as recorded"], 4) == round(committed, 4)


def test_the_command_prints_one_row_per_condition(capsys):
    assert main([str(DEFAULT_CHECKPOINT)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"| condition | {DEFAULT_CHECKPOINT} |"
    assert len(lines) == 2 + 1 + 2 * len(FACTORS)
