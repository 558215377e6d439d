"""`python -m training.upgrade_preprocessing [CHECKPOINT]`: give a trained checkpoint today's
audio trimming (models.word_detect's weak-edge pass) without retraining it.

The weights stay as they are; the checkpoint's stored AudioParams gain the weak-edge fields at
their defaults, so loading it runs the new pass, and its meta records what changed and from
which version. The file's bytes change, hence its model version: an index built with the old
trimming is re-embedded (the indexer compares versions), and the ONNX graphs are exported anew.
Only worth it where the OOD report and the validation splits say so (model card).
"""

import dataclasses
import sys
from pathlib import Path

import torch

from models.encoder_config import AudioParams
from models.runtime import file_version
from models.settings import DEFAULT_CHECKPOINT
from training.export import export_onnx

WEAK_EDGE_FIELDS = ("weak_margin_db", "weak_gap_s", "weak_range_db")


def upgrade(path: Path) -> str:
    """Adds the weak-edge fields to the checkpoint at `path` (in place); returns its new version."""
    raw = torch.load(path, map_location="cpu", weights_only=True)
    audio = raw["config"].setdefault("audio", {})
    if all(field in audio for field in WEAK_EDGE_FIELDS):
        raise ValueError(f"{path} already states its weak-edge settings: {audio}")
    defaults = dataclasses.asdict(AudioParams())
    weak_edges = {field: defaults[field] for field in WEAK_EDGE_FIELDS}
    audio.update(weak_edges)
    upgrades = raw["meta"].setdefault("preprocessing_upgrades", [])
    upgrades.append({"from_version": file_version(path), "audio": weak_edges})
    torch.save(raw, path)
    export_onnx(path)
    return file_version(path)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0]) if args else DEFAULT_CHECKPOINT
    sys.stdout.write(f"{path}: model version {upgrade(path)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
