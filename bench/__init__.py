"""`python -m bench` (`make bench`): the service's speed, accuracy and memory, measured end to end.

See bench/__main__.py for the sections and flags; results go to bench/results/.
"""

import sys

# bench.scale's index layouts: one collection filtered by modality, or a collection per modality.
SCALE_LAYOUTS = ("filter", "per_modality")


def log(message: str) -> None:
    """Progress on stderr; stdout stays free for the final summary."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def fmt(x: float | None, digits: int = 1) -> str:
    """A number for the tables; a dash for one not measured."""
    return "—" if x is None else f"{x:,.{digits}f}"


def md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]
