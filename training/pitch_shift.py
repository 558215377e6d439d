"""A voice's pitch raised while its vocal tract (formants) stays: the augmentation that speed
perturbation cannot give. Speeding a man up moves his pitch *and* his formants; a child or a
high-voiced speaker differs from FSDD's six men first of all in pitch, and at 8 kHz with 32 mel
bands a high voice's harmonics fall into the low bands as stripes the model never saw.

Source-filter resynthesis: per 32 ms frame, linear prediction (LPC) splits the clip into a
spectral envelope (the formants) and a flat residual (the glottal pulses). The residual alone is
sped up by `factor` (pitch x factor, length / factor), the band it loses at the top is refilled
with noise at its level (above ~2 kHz the mel bands are wider than any harmonic spacing, so only
the level matters there), and each output frame is filtered with the envelope of the original at
the same point of the word.
"""

import numpy as np
from scipy.linalg import solve_toeplitz
from scipy.signal import butter, lfilter, resample, sosfilt

FRAME = 256  # 32 ms at 8 kHz, as the front end's window
HOP = 64  # 75% overlap: a periodic Hann window sums to a constant 2 at this hop
ORDER = 10  # LPC order for 8 kHz speech (2 + kHz)


def _frames(wave: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(windowed frames (K, FRAME), window): frame k starts at k * HOP of the zero-padded wave."""
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(FRAME) / FRAME)
    count = max(1, int(np.ceil(wave.size / HOP)))
    padded = np.pad(wave, (0, count * HOP + FRAME - wave.size))
    starts = np.arange(count) * HOP
    return padded[starts[:, None] + np.arange(FRAME)[None, :]] * window, window


def _lpc(frame: np.ndarray) -> np.ndarray:
    """Prediction-error filter [1, -a1, ..., -ap] of one windowed frame (autocorrelation
    method, so 1/A is stable); a silent frame gets the identity filter."""
    r = np.correlate(frame, frame, mode="full")[FRAME - 1 : FRAME + ORDER]
    if r[0] < 1e-10:
        return np.r_[1.0, np.zeros(ORDER)]
    r[0] *= 1.0 + 1e-4  # a little white noise keeps the Toeplitz system well conditioned
    return np.r_[1.0, -solve_toeplitz(r[:-1], r[1:])]


def _overlap_add(pieces: np.ndarray, length: int) -> np.ndarray:
    out = np.zeros((len(pieces) - 1) * HOP + pieces.shape[1])
    for k, piece in enumerate(pieces):
        out[k * HOP : k * HOP + piece.size] += piece
    return out[:length]


def raise_pitch(wave: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Float waveform at 8 kHz -> the same voice `factor` (>= 1) times higher, the same formants,
    1 / factor as long; peak level kept."""
    if factor <= 1.0 or wave.size < FRAME:
        return wave.astype(np.float32)
    x = wave.astype(np.float64)
    frames, window = _frames(x)
    filters = np.stack([_lpc(frame) for frame in frames])
    gain = window.sum() / HOP  # what the overlapping windows add up to
    residual = _overlap_add(
        np.stack([lfilter(a, [1.0], f) for a, f in zip(filters, frames, strict=True)]), x.size
    )
    residual /= gain
    fast = resample(residual, max(FRAME, round(residual.size / factor)))  # band-limited
    # The top (1 - 1/factor) of the band is empty now: noise there at the residual's local level
    # (a flat residual's power spread over the whole band: its level x sqrt(factor)).
    level = np.sqrt(np.convolve(fast**2, np.ones(160) / 160, mode="same"))  # 20 ms
    top = sosfilt(butter(6, 0.95 / factor, btype="highpass", output="sos"), rng.standard_normal(fast.size))
    fast = fast + top * level * np.sqrt(factor)
    out_frames, _ = _frames(fast)
    source = np.minimum(np.round(np.arange(len(out_frames)) * factor).astype(int), len(filters) - 1)
    ring = np.zeros(FRAME)  # room for each frame's filter to ring out
    pieces = np.stack(
        [lfilter([1.0], filters[k], np.r_[f, ring]) for k, f in zip(source, out_frames, strict=True)]
    )
    out = _overlap_add(pieces, fast.size) / gain
    peak = float(np.abs(out).max())
    if not np.isfinite(peak) or peak == 0.0:
        return wave.astype(np.float32)
    return (out * (float(np.abs(x).max()) / peak)).astype(np.float32)
