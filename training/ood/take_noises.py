"""The sounds around a word in a held-to-record take (the page's "hold to record", a phone's
voice memo): the click of the button or key that starts and stops the recording, and a breath
before or after the word. Evaluation only (see training.ood); training.augment draws its own.

Both are plain numpy, seeded by the caller's generator, at any sample rate.
"""

import numpy as np
from scipy.signal import butter, sosfilt


def click(rng: np.random.Generator, rate: int) -> np.ndarray:
    """A button or key click: a 2-8 ms burst, a damped 1.5-4 kHz ring plus a broadband
    transient, peak 1. Short enough that it holds no word, loud enough to set a take's peak."""
    length = int(rng.uniform(0.002, 0.008) * rate)
    t = np.arange(length) / rate
    decay = np.exp(-t / (length / rate / 4))
    ring = np.sin(2 * np.pi * rng.uniform(1_500, 4_000) * t + rng.uniform(0, 2 * np.pi))
    burst = decay * (0.6 * ring + 0.4 * rng.standard_normal(length))
    return burst / (np.abs(burst).max() + 1e-12)


def breath(rng: np.random.Generator, rate: int) -> np.ndarray:
    """An in- or out-breath near the microphone: 0.25-0.6 s of noise shaped like an open
    vocal tract (band-passed 300-3,500 Hz with a soft resonance), a smooth swell, unit RMS."""
    length = int(rng.uniform(0.25, 0.6) * rate)
    noise = rng.standard_normal(length)
    low, high = rng.uniform(250, 500), min(rng.uniform(2_500, 3_800), 0.45 * rate)
    shaped = sosfilt(butter(2, [low, high], btype="bandpass", fs=rate, output="sos"), noise)
    centre = rng.uniform(700, 1_800)  # a formant-like bump: breath through an open mouth
    band = butter(2, [0.8 * centre, 1.25 * centre], btype="bandpass", fs=rate, output="sos")
    resonance = sosfilt(band, noise)
    sound = shaped + 0.8 * resonance
    rise = rng.uniform(0.3, 0.6)  # where the swell peaks, as a share of its length
    x = np.linspace(0, 1, length)
    envelope = np.where(x < rise, np.sin(np.pi / 2 * x / rise), np.cos(np.pi / 2 * (x - rise) / (1 - rise)))
    sound *= np.clip(envelope, 0.0, 1.0) ** 1.5  # rounding can leave -1e-17 at the end
    return sound / (np.sqrt(np.mean(sound**2)) + 1e-12)
