"""Which synthetic voices a training run trains on and which it keeps for model selection."""

import numpy as np
import pytest
import torch

from models.encoder_config import EncoderConfig
from training import festival_speakers, training_voices
from training.training_voices import SELECTION_COPIES, held_out_voice_waves, synthetic_waves

CONFIG = EncoderConfig()


@pytest.mark.parametrize(
    "call", [synthetic_waves, lambda kind, config: held_out_voice_waves(kind, config, 0)]
)
def test_an_unknown_kind_is_refused_and_none_is_empty(call):
    with pytest.raises(ValueError, match="unknown"):
        call("espeak", CONFIG)
    waves, labels = call("none", CONFIG)
    assert waves == [] and labels.shape == (0,) and labels.dtype == torch.long


def test_held_out_voices_are_augmented_copies_the_seed_fixes(tmp_path, monkeypatch):
    """One held-out voice at one rate (10 real festival clips, kept small for the suite)."""
    monkeypatch.setattr(training_voices, "cache_dir", lambda: tmp_path)
    monkeypatch.setattr(festival_speakers, "SELECTION_VOICES", festival_speakers.SELECTION_VOICES[-1:])
    monkeypatch.setattr(festival_speakers, "SELECTION_RATES", (1.0,))
    waves, labels = held_out_voice_waves("festival", CONFIG, seed=0)
    assert len(waves) == len(labels) == 10 * SELECTION_COPIES
    assert labels.tolist() == list(range(10)) * SELECTION_COPIES
    again, _ = held_out_voice_waves("festival", CONFIG, seed=0)
    other, _ = held_out_voice_waves("festival", CONFIG, seed=1)
    assert all(np.array_equal(a, b) for a, b in zip(waves, again, strict=True))
    assert not all(a.shape == b.shape and np.array_equal(a, b) for a, b in zip(waves, other, strict=True))
    # the two copies of a clip are two different augmentations of it
    assert not all(
        waves[i].shape == waves[i + 10].shape and np.array_equal(waves[i], waves[i + 10]) for i in range(10)
    )
