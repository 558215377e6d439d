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
