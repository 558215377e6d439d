"""models.word_detect: the loud core of a word, and its weak edges that a room's noise floor
hides from a level rule (a synthetic "vowel, closure, fricative" in room noise)."""

import dataclasses

import numpy as np
from scipy.signal import butter, lfilter, sosfilt

from models.audio_preprocess import highpass
from models.encoder_config import AudioParams
from models.word_detect import word_frames

RATE = 8_000
PARAMS = AudioParams()
LEVEL_ONLY = dataclasses.replace(PARAMS, weak_margin_db=None)


def _seconds(start: float, length: float) -> slice:
    return slice(int(start * RATE), int((start + length) * RATE))


def _room(rng: np.random.Generator, seconds: float, rms: float) -> np.ndarray:
    """Noise falling off above ~500 Hz, as a quiet room's."""
    pink = lfilter([0.3], [1.0, -0.7], rng.standard_normal(int(seconds * RATE)))
    return pink / pink.std() * rms


def _fricative(rng: np.random.Generator, seconds: float, rms: float) -> np.ndarray:
    band = butter(4, [2_500, 3_800], btype="bandpass", fs=RATE, output="sos")
    hiss = sosfilt(band, rng.standard_normal(int(seconds * RATE)))
    return hiss / hiss.std() * rms


def _vowel(seconds: float, peak: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    voiced = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 12))
    return voiced / np.abs(voiced).max() * peak * np.hanning(t.size) ** 0.2


def take(
    rng: np.random.Generator, fricative_db: float = -32.0, gap: float = 0.06, room_db: float = -42.0
) -> np.ndarray:
    """1.6 s: room noise `room_db` under the peak, a vowel at 0.5-0.8 s, a closure of `gap`,
    then a 0.12 s fricative `fricative_db` under the vowel's level."""
    wave = _room(rng, 1.6, 0.5 * 10 ** (room_db / 20))
    wave[_seconds(0.5, 0.3)] += _vowel(0.3, 0.5)
    wave[_seconds(0.8 + gap, 0.12)] += _fricative(rng, 0.12, 0.5 / np.sqrt(2) * 10 ** (fricative_db / 20))
    return highpass(wave.astype(np.float32), RATE, 80.0)


def _end_s(wave: np.ndarray, params: AudioParams) -> float:
    _, last, hop = word_frames(wave, params)
    return (last * hop + 2 * hop) / RATE


def test_a_weak_fricative_after_a_closure_belongs_to_the_word():
    wave = take(np.random.default_rng(0))
    assert _end_s(wave, LEVEL_ONLY) < 0.83  # the level rule stops at the vowel
    assert 0.96 < _end_s(wave, PARAMS) < 1.03  # the word now ends with its fricative (at 0.98 s)
    first, _, hop = word_frames(wave, PARAMS)
    assert 0.45 < first * hop / RATE < 0.52  # and still starts at the vowel: the room stays out


def test_room_noise_alone_does_not_widen_the_word():
    rng = np.random.default_rng(1)
    wave = _room(rng, 1.6, 0.5 * 10 ** (-42 / 20))
    wave[_seconds(0.5, 0.3)] += _vowel(0.3, 0.5)
    wave = highpass(wave.astype(np.float32), RATE, 80.0)
    assert word_frames(wave, PARAMS) == word_frames(wave, LEVEL_ONLY)


def test_a_sound_beyond_the_gap_is_not_the_word():
    gap = PARAMS.weak_gap_s + 0.08
    wave = take(np.random.default_rng(2), gap=gap)
    assert _end_s(wave, PARAMS) < 0.83


def test_sounds_far_under_the_loudest_frame_are_not_the_word():
    """In a very quiet room the fricative stands out from the noise either way; only one within
    weak_range_db of the loudest frame is heard as part of the word."""
    audible = take(np.random.default_rng(3), fricative_db=-(PARAMS.weak_range_db - 10), room_db=-90.0)
    inaudible = take(np.random.default_rng(3), fricative_db=-(PARAMS.weak_range_db + 8), room_db=-90.0)
    assert _end_s(audible, PARAMS) > 0.96
    assert _end_s(inaudible, PARAMS) < 0.83
