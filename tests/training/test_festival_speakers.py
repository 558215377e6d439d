"""Training's Festival speakers: real festival output for each voice the recipe names, usable by
the shared audio preprocessing, pitch where the voice takes it, and the held-out selection voices
kept apart from the training ones."""

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from models.audio_preprocess import speech_tensor, trim_silence, wave_at_model_rate
from models.encoder_config import EncoderConfig
from training.festival_speakers import (
    PITCHED_RATES,
    SELECTION_VOICES,
    TRAINING_VOICES,
    UNPITCHED_RATES,
    festival_clips,
)
from training.tts_speakers import PITCHES_HZ

PARAMS = EncoderConfig().audio
REPO = Path(__file__).resolve().parents[2]


def _fundamental_hz(wave: np.ndarray, rate: int) -> float:
    """Median autocorrelation pitch of the word's loud frames."""
    word = trim_silence(wave, PARAMS)
    frame = int(0.04 * rate)
    pitches = []
    for start in range(0, word.size - frame, frame // 2):
        chunk = word[start : start + frame] - word[start : start + frame].mean()
        if np.sqrt(np.mean(chunk**2)) < 0.3 * np.sqrt(np.mean(word**2)):
            continue
        corr = np.correlate(chunk, chunk, "full")[frame - 1 :]
        low, high = rate // 500, rate // 70
        pitches.append(rate / (low + int(np.argmax(corr[low:high]))))
    return float(np.median(pitches))


@pytest.fixture(scope="module")
def one_rate(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, int]]:
    """Every voice (training and selection) at one rate: 10 clips per voice, 50 per pitched one."""
    folder = tmp_path_factory.mktemp("festival")
    return festival_clips(folder, TRAINING_VOICES + SELECTION_VOICES, rates=(1.0,))


def test_every_voice_says_every_digit(one_rate):
    per_voice = Counter(re.match(r"\d_festival-(.+)-f", path.name)[1] for path, _ in one_rate)
    for voice in TRAINING_VOICES + SELECTION_VOICES:
        assert per_voice[voice.name] == 10 * (len(PITCHES_HZ) if voice.sets_pitch else 1)
    assert Counter(label for _, label in one_rate) == dict.fromkeys(range(10), len(one_rate) // 10)
    for path, _ in one_rate[::7]:  # each is a word the trimmer finds and the encoder takes
        wave = wave_at_model_rate(path.read_bytes(), PARAMS)
        assert 0.15 < trim_silence(wave, PARAMS).size / PARAMS.sample_rate < 1.6, path.name
        spec = speech_tensor(wave, PARAMS)
        assert spec.shape == (1, PARAMS.n_mels, PARAMS.frames) and np.isfinite(spec).all()


def test_the_pitch_setting_moves_the_voice_from_a_man_to_a_child(one_rate):
    pitched = next(voice for voice in TRAINING_VOICES if voice.sets_pitch)
    sevens = {p.name: p for p, label in one_rate if label == 7 and f"-{pitched.name}-" in p.name}
    deep = wave_at_model_rate(
        sevens[f"7_festival-{pitched.name}-f{PITCHES_HZ[0]}-r1.wav"].read_bytes(), PARAMS
    )
    high = wave_at_model_rate(
        sevens[f"7_festival-{pitched.name}-f{PITCHES_HZ[-1]}-r1.wav"].read_bytes(), PARAMS
    )
    assert _fundamental_hz(deep, PARAMS.sample_rate) < 150 < 230 < _fundamental_hz(high, PARAMS.sample_rate)


def test_rates_change_the_length_and_the_cache_is_reused(tmp_path):
    voice = TRAINING_VOICES[-1]
    clips = festival_clips(tmp_path, (voice,))
    assert len(clips) == 10 * len(UNPITCHED_RATES if not voice.sets_pitch else PITCHED_RATES)
    ones = sorted((p for p, label in clips if label == 1), key=lambda p: float(p.name.split("-r")[-1][:-4]))
    lengths = [p.stat().st_size for p in ones]
    assert lengths == sorted(lengths) and lengths[0] < lengths[-1]  # Duration_Stretch slows the word
    stamps = {path: path.stat().st_mtime_ns for path, _ in clips}
    assert festival_clips(tmp_path, (voice,)) == clips
    assert all(path.stat().st_mtime_ns == stamps[path] for path, _ in clips)


def test_selection_voices_are_never_trained_on():
    assert not {v.name for v in SELECTION_VOICES} & {v.name for v in TRAINING_VOICES}


def test_system_deps_installs_every_voice():
    script = (REPO / "scripts" / "system_deps.sh").read_text()
    listed = set(re.search(r"FESTIVAL_VOICES=\(([^)]*)\)", script)[1].split())
    assert listed == {voice.package for voice in TRAINING_VOICES + SELECTION_VOICES}
