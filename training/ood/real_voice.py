"""A real voice from outside FSDD: Allison Smith saying the ten digits, as the Asterisk
telephone exchange ships her prompts (Debian `asterisk-core-sounds-en-g722`, CC BY-SA 3.0,
wideband G.722 at 16 kHz).

FSDD's six men are the only real people training hears, and every other voice in this report
is synthetic. One professional speaker's studio takes are a small set (ten words, so a
condition's row is 10 clips), but they are a real woman's vocal tract, rendered through the same
recording conditions as the espeak-ng voices. Evaluation only, like all of training.ood.
"""

from pathlib import Path

import av
import numpy as np

PACKAGE = "asterisk-core-sounds-en-g722"
DIGITS_DIR = Path("/usr/share/asterisk/sounds/en_US_f_Allison/digits")  # 0.g722 ... 9.g722


class RealVoiceUnavailableError(RuntimeError):
    pass


def decode_g722(path: Path) -> tuple[np.ndarray, int]:
    """A raw G.722 file (no header: the demuxer is named) -> mono float32 samples and their rate."""
    with av.open(str(path), format="g722") as container:
        frames = [frame.to_ndarray() for frame in container.decode(audio=0)]
        rate = container.streams.audio[0].rate
    samples = np.concatenate(frames, axis=1)[0].astype(np.float32) / 32768.0  # s16 mono
    return samples, int(rate)


def allison_words(digits_dir: Path = DIGITS_DIR) -> list[tuple[str, int, np.ndarray, int]]:
    """(name, label, samples, rate) for each digit word, in recording_conditions' Word shape."""
    paths = [digits_dir / f"{label}.g722" for label in range(10)]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise RealVoiceUnavailableError(
            f"{digits_dir} lacks {', '.join(missing)}: install the Debian package {PACKAGE} "
            "(scripts/system_deps.sh test does)"
        )
    return [(f"allison_{label}", label, *decode_g722(path)) for label, path in enumerate(paths)]
