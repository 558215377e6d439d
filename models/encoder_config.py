"""Dataclasses that describe the encoders and the preprocessing they were trained with.

Both are stored inside every checkpoint, so loading a checkpoint rebuilds exactly
the model and the input pipeline it was trained with.
"""

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class ImageParams:
    size: int = 28  # output is size x size, as MNIST
    digit_box: int = 20  # the digit is scaled to fit this box, keeping its aspect
    max_pixels: int = 40_000_000  # decompression-bomb guard (width * height)


@dataclass(frozen=True)
class AudioParams:
    sample_rate: int = 8_000  # everything is resampled to FSDD's rate
    min_input_rate: int = 4_000
    max_input_rate: int = 192_000
    max_seconds: float = 10.0  # longer uploads are refused
    silence_db: float = 35.0  # frames this far below the loudest frame are silence
    noise_percentile: float = 10.0  # this percentile of frame levels estimates the noise floor
    noise_margin_db: float = 12.0  # ...and frames less than this above it are noise
    word_range_db: float = 25.0  # the noise rule never cuts frames within this of the loudest
    max_gap_s: float = 0.25  # pauses up to this long stay inside one word
    # The word's weak edges (models.word_detect): frames next to it that some band shows this far
    # over its noise floor, across gaps up to weak_gap_s, at most weak_range_db under the loudest.
    # None: the level rule alone (what a checkpoint without these fields was trained with).
    weak_margin_db: float | None = 12.0
    weak_gap_s: float = 0.1
    weak_range_db: float = 55.0
    silence_floor: float = 1e-4  # peak amplitude below this = silent-only upload
    n_fft: int = 256  # 32 ms window at 8 kHz
    hop_length: int = 125  # 15.6 ms hop
    n_mels: int = 32
    frames: int = 64  # fixed width = 1.0 s of trimmed speech


@dataclass(frozen=True)
class EncoderConfig:
    embed_dim: int = 128  # shared embedding size, L2-normalised
    num_classes: int = 10
    image_channels: tuple[int, ...] = (32, 64, 128)  # conv widths per stage
    audio_channels: tuple[int, ...] = (24, 48, 96, 128)
    image_depth: int = 2  # convolutions per image stage
    audio_depth: int = 1  # convolutions per audio stage (spectrograms cost more per layer)
    dropout: float = 0.1
    image: ImageParams = field(default_factory=ImageParams)
    audio: AudioParams = field(default_factory=AudioParams)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "EncoderConfig":
        raw = dict(raw)
        image = ImageParams(**raw.pop("image", {}))
        # A checkpoint saved before the weak-edge pass existed was trained without it: it keeps
        # the level rule alone (training.upgrade_preprocessing gives one the pass on purpose).
        audio = AudioParams(**{"weak_margin_db": None, **raw.pop("audio", {})})
        for key in ("image_channels", "audio_channels"):
            if key in raw:
                raw[key] = tuple(raw[key])
        return cls(image=image, audio=audio, **raw)
