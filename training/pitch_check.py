"""`python -m training.pitch_check [CHECKPOINT ...]`: how much a checkpoint leans on pitch.

The FSDD validation takes (training's six men) with their pitch alone raised (formants kept,
training.pitch_shift) and, beside them, sped up by the same factor (pitch and formants move
together): the audio encoder's classifier accuracy on each. A model that hears the words from
the vocal tract loses little on either; one that learnt the men's pitch loses on the first.

A diagnostic, not an out-of-distribution figure: the pitch-raised rows use the very generator
`--pitch-raise` trains with. The OOD report (`python -m training.ood`) is the honest measure.
"""

import sys

import numpy as np
from scipy.signal import resample

from models.audio_preprocess import speech_tensor, wave_at_model_rate
from models.data import fsdd_items
from models.runtime import load_encoders
from models.settings import DEFAULT_CHECKPOINT, ModelSettings
from training.pitch_shift import raise_pitch

FACTORS = (1.4, 1.8, 2.2)


def _changed(wave: np.ndarray, kind: str, factor: float, rng: np.random.Generator) -> np.ndarray:
    if kind == "pitch":
        return raise_pitch(wave, factor, rng)
    if kind == "speed":
        return resample(wave, round(wave.size / factor)).astype(np.float32)
    return wave


def accuracy_by_condition(checkpoint: str) -> dict[str, float]:
    encoders = load_encoders(checkpoint, "cpu", "torch")
    params = encoders.config.audio
    items = fsdd_items(ModelSettings().data_dir, "validation")
    waves = [wave_at_model_rate(item.path.read_bytes(), params) for item in items]
    labels = np.array([item.label for item in items])
    rng = np.random.default_rng(0)
    conditions = [("as recorded", "", 1.0)]
    conditions += [(f"{kind} x{f}", kind, f) for f in FACTORS for kind in ("pitch", "speed")]
    out = {}
    for name, kind, factor in conditions:
        inputs = np.stack([speech_tensor(_changed(wave, kind, factor, rng), params) for wave in waves])
        _, probabilities = encoders.classify("audio", inputs)
        out[name] = float((probabilities.argmax(axis=1) == labels).mean())
    return out


def main(argv: list[str] | None = None) -> int:
    checkpoints = (sys.argv[1:] if argv is None else argv) or [str(DEFAULT_CHECKPOINT)]
    results = {path: accuracy_by_condition(path) for path in checkpoints}
    names = list(next(iter(results.values())))
    sys.stdout.write(
        "| condition | " + " | ".join(checkpoints) + " |\n|---|" + "---|" * len(checkpoints) + "\n"
    )
    for name in names:
        sys.stdout.write(f"| {name} | " + " | ".join(f"{r[name]:.3f}" for r in results.values()) + " |\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
