"""`python -m models.ood [--json PATH] [--grid PNG]`: the OOD report of a checkpoint.

Defaults come from models.settings (CHECKPOINT, DATA_DIR, DEVICE, DIGITBRIDGE_CACHE);
the flags override them.
"""

import argparse
import json
import sys
from pathlib import Path

from models.encoders import load_encoders
from models.ood.grid import normalised_grid
from models.ood.rendered_digits import rendered_digits
from models.ood.report import evaluate_ood
from models.settings import add_model_arguments


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.ood", description="Out-of-distribution evaluation of the DigitBridge encoders"
    )
    add_model_arguments(parser)
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where generated speech is cached (default: DIGITBRIDGE_CACHE/ood)",
    )
    parser.add_argument(
        "--json", dest="json_path", type=Path, default=None, help="write the report here (default: stdout)"
    )
    parser.add_argument("--grid", default=None, help="also write a PNG grid of the normalised OOD images")
    args = parser.parse_args(argv)

    encoders = load_encoders(args.checkpoint, args.device)
    digits = rendered_digits()
    if args.grid:
        normalised_grid(digits, encoders.config).save(args.grid)
    report = evaluate_ood(encoders, args.data_dir, args.cache_dir, digits=digits)
    text = json.dumps(report, indent=2)
    if args.json_path:
        args.json_path.write_text(text + "\n")
    sys.stdout.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
