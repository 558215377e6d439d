"""The side-by-side OOD comparison (training.ood.compare) on the committed report."""

import json
from pathlib import Path

from training.ood.compare import compare, main, rows

REPORT = json.loads(Path("models/ood_metrics.json").read_text())


def test_every_condition_and_voice_group_gets_a_row():
    labels = [label for label, _, _ in rows(REPORT)]
    for group in REPORT["audio_to_image"]["by_voice_group"]:
        assert f"voices: {group}" in labels
    for direction in ("audio_to_image", "image_to_audio"):
        for condition, stats in REPORT["conditions"][direction].items():
            for source in stats["by_source"]:
                assert f"{condition}: {source}" in labels


def test_columns_show_each_report_and_a_missing_row_as_a_dash():
    other = json.loads(json.dumps(REPORT))
    other["model_version"] = "other"
    other["conditions"]["audio_to_image"]["reference"]["by_source"]["espeak"]["cross_p@5"] = 0.5
    del other["conditions"]["audio_to_image"]["laptop_8k_1s"]
    table = compare([REPORT, other]).splitlines()
    assert table[0] == f"| row | metrics | {REPORT['model_version']} | other | 2 SE |"
    espeak = REPORT["conditions"]["audio_to_image"]["reference"]["by_source"]["espeak"]
    row = next(line for line in table if line.startswith("| reference: espeak"))
    assert (
        f"| {espeak['cross_p@1']:.3f} / {espeak['cross_p@5']:.3f} | {espeak['cross_p@1']:.3f} / 0.500 |"
        in row
    )
    laptop = next(line for line in table if line.startswith("| laptop_8k_1s: espeak"))
    assert "| — |" in laptop
    # two binomial standard errors over the row's clips (360 a condition: about 0.023 near 0.95)
    p, n = espeak["cross_p@5"], espeak["n"]
    assert row.endswith(f"| ±{2 * (p * (1 - p) / n) ** 0.5:.3f} |")


def test_reports_of_different_generator_versions_say_which_each_is():
    older = json.loads(json.dumps(REPORT))
    older["generator_version"] = REPORT["generator_version"] - 1
    header = compare([older, REPORT]).splitlines()[0]
    version = REPORT["model_version"]
    assert header == (
        f"| row | metrics | {version} (generator {older['generator_version']}) "
        f"| {version} (generator {REPORT['generator_version']}) | 2 SE |"
    )


def test_the_command_needs_two_reports(capsys):
    assert main(["models/ood_metrics.json"]) == 2
    assert main(["models/ood_metrics.json", "models/ood_metrics.json"]) == 0
    assert capsys.readouterr().out.count("\n") == len(rows(REPORT)) + 2
