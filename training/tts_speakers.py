"""Synthetic speakers for training: the ten digit words from flite's voices (Debian package
`flite`: US, Scottish and Canadian men and a US woman), each at several pitches and speaking
rates. FSDD has six men; these add other voices without real data that is not here.

Training only. espeak-ng stays an evaluation-only voice source (training.ood.speech), so the
out-of-distribution report keeps measuring voices the model never heard.
"""

import hashlib
import shutil
import subprocess
from pathlib import Path

from models.data import DIGIT_WORDS

VOICES = ("kal", "kal16", "awb", "rms", "slt")
# int_f0_target_mean: deep men to children. rms, a unit-selection voice, ignores it: its five
# pitch variants are one clip, so rms weighs five times in training (as the committed model had it).
PITCHES_HZ = (95, 130, 175, 230, 290)
RATES = (0.8, 1.0, 1.25)  # duration_stretch: fast to slow speakers


class TtsUnavailableError(RuntimeError):
    """flite is not installed."""


def _name(voice: str, pitch: int, rate: float, label: int) -> str:
    return f"{label}_flite-{voice}-f{pitch}-r{rate:g}.wav"


def flite_clips(cache_dir: Path) -> list[tuple[Path, int]]:
    """(WAV path, digit) for every voice x pitch x rate x digit, synthesised once into the cache."""
    flite = shutil.which("flite")
    if flite is None:
        raise TtsUnavailableError(
            "flite is not installed (Debian: apt-get install flite; scripts/system_deps.sh does it)"
        )
    version = subprocess.run([flite, "--version"], capture_output=True, text=True, check=False).stdout
    key = hashlib.sha256(f"{version}{VOICES}{PITCHES_HZ}{RATES}".encode()).hexdigest()[:12]
    folder = cache_dir / f"flite-{key}"
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for voice in VOICES:
        for pitch in PITCHES_HZ:
            for rate in RATES:
                for label, word in enumerate(DIGIT_WORDS):
                    path = folder / _name(voice, pitch, rate, label)
                    if not path.exists():
                        partial = path.with_suffix(".part")
                        subprocess.run(
                            [flite, "-voice", voice, "-t", word, "-o", str(partial),
                             "--setf", f"int_f0_target_mean={pitch}", "--setf", f"duration_stretch={rate}"],
                            check=True, capture_output=True, timeout=30,
                        )  # fmt: skip
                        partial.rename(path)
                    clips.append((path, label))
    return clips
