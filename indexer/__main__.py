"""python -m indexer [--recreate] [--limit N] [--sources mnist,fsdd] [--batch-size N] [...]

Embeds the MNIST test set and the FSDD validation split with the checkpoint (CHECKPOINT) and
writes them into Weaviate (WEAVIATE_URL, or the embedded server). The options are
IndexerSettings' fields, each also an env var (`--help` lists both). Exit status: 0 when every
object was written and the end checks passed, 1 when any object failed or a check failed,
2 for a wrong option, or when Weaviate, the checkpoint or the data cannot be reached.
"""

from __future__ import annotations

import sys

from pydantic_settings import CliApp

from indexer.pipeline import Report, run
from indexer.settings import IndexerSettings
from models.data import DataUnavailableError
from store import StoreUnavailable


def parse_args(argv: list[str] | None) -> IndexerSettings:
    """The settings from the environment, .env and `argv` (sys.argv[1:] when None); options win."""
    return CliApp.run(IndexerSettings, cli_args=argv)


def summary(report: Report) -> str:
    s = report.seconds
    lines = [
        f"model version {report.model_version}: {report.total} items, {report.written} written, "
        f"{report.skipped} already indexed, {len(report.failures)} failed",
        ", ".join(
            f"{step} {s[step]:.1f}s ({report.rate(step, report.written):.0f} obj/s)"
            if report.written
            else f"{step} -"
            for step in ("prepare", "embed", "import")
        ),
        f"read {s['read']:.1f}s, scan {s['scan']:.1f}s, checks {s['check']:.1f}s, total {s['total']:.1f}s",
    ]
    users = report.user_items
    lines.append(
        f"user items: {users.records} on record, {users.reembedded} re-embedded, {users.copied} copied "
        f"into the searched collection, {users.removed} copies without a record removed"
    )
    lines += [f"FAILED {key}: {reason}" for key, reason in report.failures]
    lines += [f"CHECK FAILED: {problem}" for problem in report.problems]
    if report.ok:
        lines.append(
            "checks passed: counts per modality and label match, the vector index holds every object,"
            " sampled items are their own nearest neighbour"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    try:
        settings = parse_args(argv)
        report = run(settings)
    except StoreUnavailable as exc:
        print(f"indexer: Weaviate unavailable: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    except (FileNotFoundError, ValueError, DataUnavailableError) as exc:  # checkpoint, data, settings
        print(f"indexer: {exc}", file=sys.stderr)  # noqa: T201
        return 2
    print(summary(report))  # noqa: T201
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
