"""The synthetic voices a training run uses: flite's and Festival's clips joining FSDD's train
split, and the held-out Festival voices that model selection scores (never trained on)."""

import numpy as np
import torch

from models.audio_preprocess import wave_at_model_rate
from models.data import cache_dir
from models.encoder_config import EncoderConfig
from training.augment import augment_wave

SYNTHETIC_KINDS = ("flite+festival", "flite", "none")
SELECTION_KINDS = ("festival", "none")
# Each held-out clip is scored in this many seeded augmented versions (noise, rooms, bands,
# long takes): clean synthetic speech is too easy to tell recipes apart.
SELECTION_COPIES = 2


def _waves(clips, config: EncoderConfig) -> tuple[list[np.ndarray], torch.Tensor]:
    waves = [wave_at_model_rate(path.read_bytes(), config.audio) for path, _ in clips]
    return waves, torch.tensor([label for _, label in clips], dtype=torch.long)


def synthetic_waves(kind: str, config: EncoderConfig) -> tuple[list[np.ndarray], torch.Tensor]:
    """Training clips from text-to-speech voices, at the model rate, and their digits."""
    if kind not in SYNTHETIC_KINDS:
        raise ValueError(f"unknown synthetic_speakers {kind!r}: one of {', '.join(SYNTHETIC_KINDS)}")
    clips = []
    if kind != "none":
        from training.tts_speakers import flite_clips

        clips += flite_clips(cache_dir() / "tts")
    if kind == "flite+festival":
        from training.festival_speakers import festival_clips

        clips += festival_clips(cache_dir() / "tts")
    return _waves(clips, config)


def held_out_voice_waves(
    kind: str, config: EncoderConfig, seed: int
) -> tuple[list[np.ndarray], torch.Tensor]:
    """Selection clips of voices training never hears, each in SELECTION_COPIES augmented versions."""
    if kind not in SELECTION_KINDS:
        raise ValueError(f"unknown selection_voices {kind!r}: one of {', '.join(SELECTION_KINDS)}")
    if kind == "none":
        return [], torch.zeros(0, dtype=torch.long)
    from training.festival_speakers import SELECTION_RATES, SELECTION_VOICES, festival_clips

    clean, labels = _waves(festival_clips(cache_dir() / "tts", SELECTION_VOICES, SELECTION_RATES), config)
    waves = [
        augment_wave(wave, config.audio, np.random.default_rng([seed, 1_000_000 + copy, index]))
        for copy in range(SELECTION_COPIES)
        for index, wave in enumerate(clean)
    ]
    return waves, labels.repeat(SELECTION_COPIES)
