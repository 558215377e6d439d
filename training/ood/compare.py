"""`python -m training.ood.compare BEFORE.json AFTER.json [...]`: OOD reports of several
checkpoints side by side, one Markdown row per voice group, digit and condition x source.

Each row also gives the smallest difference the row can resolve: two binomial standard errors
of a proportion near the first report's value over the row's n. A 90-clip condition at 0.92
moves by ~3 points between two training seeds; a change smaller than that column is noise.
"""

import json
import math
import sys
from pathlib import Path


def _cell(stats: dict, keys: tuple[str, ...]) -> str:
    return " / ".join(f"{stats[key]:.3f}" for key in keys)


def _resolution(stats: dict, key: str) -> str:
    p, n = stats[key], stats["n"]
    return f"±{2 * math.sqrt(max(p * (1 - p), 1 / n) / n):.3f}"


Row = tuple[str, tuple[str, ...], tuple[str, ...]]


def rows(report: dict) -> list[Row]:
    """(row label, path into the report, keys shown) for every row the comparison prints."""
    voices = report["audio_to_image"]
    out: list[Row] = [("voices: all", ("audio_to_image", "overall"), ("cross_p@1", "cross_p@10"))]
    out += [
        (f"voices: {group}", ("audio_to_image", "by_voice_group", group), ("cross_p@1", "cross_p@10"))
        for group in voices["by_voice_group"]
    ]
    out += [
        (f"voices: '{digit}'", ("audio_to_image", "by_digit", digit), ("cross_p@1", "cross_p@10"))
        for digit in voices["by_digit"]
    ]
    out.append(("rendered digits: all", ("image_to_audio", "overall"), ("cross_p@1", "cross_p@10")))
    for direction, conditions in report["conditions"].items():
        for condition, stats in conditions.items():
            for source in stats["by_source"]:
                path = ("conditions", direction, condition, "by_source", source)
                out.append((f"{condition}: {source}", path, ("cross_p@1", "cross_p@5")))
    return out


def _at(report: dict, path: tuple[str, ...]) -> dict | None:
    for key in path:
        if not isinstance(report, dict) or key not in report:
            return None
        report = report[key]
    return report


def compare(reports: list[dict]) -> str:
    """A Markdown table: one column per report (headed by its model version)."""
    # Reports of different generator versions hold different clips (n is the first report's):
    # each column then says which it is.
    mixed = len({r.get("generator_version") for r in reports}) > 1
    columns = [
        r["model_version"] + (f" (generator {r.get('generator_version')})" if mixed else "") for r in reports
    ]
    header = ["row", "metrics", *columns, "2 SE"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, path, keys in rows(reports[0]):
        cells = [_at(report, path) for report in reports]
        shown = [_cell(c, keys) if c else "—" for c in cells]
        first = cells[0]
        assert first is not None  # the rows come from the first report
        metrics = " / ".join(k.replace("cross_", "") for k in keys)
        lines.append(
            f"| {label} (n={first['n']}) | {metrics} | "
            + " | ".join(shown)
            + f" | {_resolution(first, keys[-1])} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    paths = sys.argv[1:] if argv is None else argv
    if len(paths) < 2:
        sys.stderr.write("usage: python -m training.ood.compare BEFORE.json AFTER.json [...]\n")
        return 2
    sys.stdout.write(compare([json.loads(Path(p).read_text()) for p in paths]) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
