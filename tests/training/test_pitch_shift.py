"""training.pitch_shift: the pitch goes up, the formants stay (a synthetic vowel whose pitch and
formants are known)."""

import numpy as np
import pytest
from scipy.linalg import solve_toeplitz
from scipy.signal import lfilter

from training.pitch_shift import raise_pitch

RATE = 8_000
FORMANTS_HZ = (500.0, 1500.0)


def vowel(pitch_hz: float, seconds: float = 0.6) -> np.ndarray:
    """A glottal pulse train through two formant resonators."""
    pulses = np.zeros(int(seconds * RATE))
    pulses[:: round(RATE / pitch_hz)] = 1.0
    out = pulses
    for hz in FORMANTS_HZ:
        radius, angle = np.exp(-np.pi * 80 / RATE), 2 * np.pi * hz / RATE
        out = lfilter([1.0], [1.0, -2 * radius * np.cos(angle), radius**2], out)
    return (0.8 * out / np.abs(out).max()).astype(np.float32)


def pitch_of(wave: np.ndarray) -> float:
    middle = wave[len(wave) // 4 : 3 * len(wave) // 4].astype(np.float64)
    r = np.correlate(middle, middle, mode="full")[middle.size - 1 :]
    low, high = RATE // 500, RATE // 60  # lags of 500 Hz down to 60 Hz
    return RATE / (low + int(np.argmax(r[low:high])))


def formants_of(wave: np.ndarray) -> list[float]:
    """Peaks of the whole clip's LPC envelope, in Hz."""
    x = wave.astype(np.float64) * np.hanning(wave.size)
    r = np.correlate(x, x, mode="full")[x.size - 1 : x.size + 11]
    a = np.r_[1.0, -solve_toeplitz(r[:-1], r[1:])]
    freqs = np.linspace(0, RATE / 2, 2001)
    envelope = -np.log(np.abs(np.polyval(a[::-1], np.exp(-1j * 2 * np.pi * freqs / RATE))))
    peaks = [i for i in range(1, freqs.size - 1) if envelope[i - 1] < envelope[i] > envelope[i + 1]]
    strongest = sorted(peaks, key=lambda i: -envelope[i])[: len(FORMANTS_HZ)]
    return sorted(float(freqs[i]) for i in strongest)


def test_the_pitch_rises_by_the_factor_and_the_clip_shortens_by_it():
    source = vowel(120.0)
    raised = raise_pitch(source, 1.8, np.random.default_rng(0))
    assert abs(pitch_of(source) - 120.0) < 3
    assert abs(pitch_of(raised) - 216.0) < 216.0 * 0.04
    assert abs(raised.size - source.size / 1.8) <= 1
    assert raised.dtype == np.float32 and np.isfinite(raised).all()
    assert np.isclose(np.abs(raised).max(), np.abs(source).max())  # peak level kept


@pytest.mark.parametrize("factor", [1.4, 1.8, 2.2])
def test_the_formants_stay_where_speeding_up_would_move_them(factor):
    """The raised clip's envelope peaks match the same vowel made at the higher pitch (LPC reads
    formants through the harmonics, so the truth is measured the same way), not a speed-up's."""
    raised = formants_of(raise_pitch(vowel(120.0), factor, np.random.default_rng(0)))
    truth = formants_of(vowel(120.0 * factor))
    for found, expected in zip(raised, truth, strict=True):
        assert abs(found - expected) < 0.05 * expected
    assert all(
        abs(found - hz * factor) > 0.15 * hz * factor for found, hz in zip(raised, FORMANTS_HZ, strict=True)
    )


def test_factor_one_silence_and_tiny_clips_come_back_unchanged():
    rng = np.random.default_rng(0)
    source = vowel(150.0)
    assert np.array_equal(raise_pitch(source, 1.0, rng), source)
    assert np.array_equal(raise_pitch(source[:100], 2.0, rng), source[:100])
    silent = np.zeros(4000, dtype=np.float32)
    assert np.array_equal(raise_pitch(silent, 2.0, rng), silent)
