"""Training's synthetic speakers: real flite output, every voice x pitch x rate x digit, usable
by the shared audio preprocessing, and synthesised only once."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from models.audio_preprocess import speech_tensor, trim_silence, wave_at_model_rate
from models.encoder_config import EncoderConfig
from training.tts_speakers import PITCHES_HZ, RATES, VOICES, flite_clips

PARAMS = EncoderConfig().audio


@pytest.fixture(scope="module")
def synthesised(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[Path, int]]]:
    """One synthesis for the module (750 clips, ~10 s): the folder and what it returned."""
    folder = tmp_path_factory.mktemp("tts")
    return folder, flite_clips(folder)


def test_every_voice_says_every_digit_once_per_pitch_and_rate(synthesised):
    _, clips = synthesised
    per_digit = len(VOICES) * len(PITCHES_HZ) * len(RATES)
    assert Counter(label for _, label in clips) == dict.fromkeys(range(10), per_digit)
    assert len({path for path, _ in clips}) == len(clips)
    # each is a real word: sound the trimmer finds, a spectrogram the encoder takes
    for path, _ in clips[:: len(clips) // 25]:
        wave = wave_at_model_rate(path.read_bytes(), PARAMS)
        kept = trim_silence(wave, PARAMS)
        assert 0.15 < kept.size / PARAMS.sample_rate < 1.5, path.name
        spec = speech_tensor(wave, PARAMS)
        assert spec.shape == (1, PARAMS.n_mels, PARAMS.frames) and np.isfinite(spec).all()


def test_the_second_call_reuses_the_cache(synthesised):
    folder, first = synthesised
    stamps = {path: path.stat().st_mtime_ns for path, _ in first}
    assert flite_clips(folder) == first
    assert all(path.stat().st_mtime_ns == stamps[path] for path, _ in first)


def test_voices_and_pitches_differ(synthesised):
    """Different voices, pitches and rates give different audio, not one clip under many names
    (except rms, whose unit selection ignores the pitch setting: one clip per rate)."""
    sevens = {p.name: p.read_bytes() for p, label in synthesised[1] if label == 7}
    distinct = len(set(sevens.values()))
    assert distinct == len(sevens) - (len(PITCHES_HZ) - 1) * len(RATES)
    rms = {sevens[n] for n in sevens if "-rms-" in n}
    assert len(rms) == len(RATES)
