"""Where the word is in a take: the frames of models.audio_preprocess's trimming step.

Two passes, the classic endpoint detector's shape (a loud core, then the weak sounds at its
edges). The core is found by level alone: frames within silence_db of the loudest *and*
noise_margin_db over the noise floor. Its edges are then followed outwards through the frames
that stand out from the noise in any frequency band: a word's weak fricatives ("six", "seven",
"five") have a tenth of the vowel's energy or less, so a room's noise floor 35-45 dB under the
peak hides them from a level rule, but their energy sits at 2-4 kHz, where a room is quiet.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from models.encoder_config import AudioParams

# Bands in which a weak sound is looked for (Hz): room rumble and hum, voicing, the second
# formant's range, and the fricatives' top octave.
BANDS_HZ = (80, 500, 1_000, 2_000, 3_000, 4_000)


def _core(level: np.ndarray, energy: np.ndarray, params: AudioParams) -> tuple[int, int]:
    """(first, last) frame of the loud core: of the runs of frames loud enough (gaps up to
    max_gap_s join a run), the one with the most energy, so that a click or a cough a second
    away is not the word. The floor rule never asks for more than word_range_db under the
    loudest frame, so the quiet consonants of a tight clip stay."""
    loudest = float(level.max())
    floor = float(np.quantile(level, params.noise_percentile / 100))  # linear, as torch.quantile
    threshold = max(
        loudest - params.silence_db, min(floor + params.noise_margin_db, loudest - params.word_range_db)
    )
    loud = np.flatnonzero(level >= threshold).tolist()
    max_gap = round(params.max_gap_s * 100)  # frames: 10 ms hop
    runs, start = [], loud[0]
    for previous, frame in zip(loud, loud[1:], strict=False):
        if frame - previous > max_gap:
            runs.append((start, previous))
            start = frame
    runs.append((start, loud[-1]))
    return max(runs, key=lambda run: float(energy[run[0] : run[1] + 1].sum()))


def _stand_out(windows: np.ndarray, level: np.ndarray, margin_db: float, params: AudioParams) -> np.ndarray:
    """Per frame: whether some band is margin_db over that band's own noise floor, for
    frames at most weak_range_db under the loudest. The floor is a low percentile of the band's
    levels over those frames only: an editor's digital silence around a tight clip is no floor,
    or the clip's own background noise would stand out from it and pass as the word."""
    spectrum = np.fft.rfft(windows * np.hanning(windows.shape[1]), axis=1)
    power = np.square(spectrum.real) + np.square(spectrum.imag)
    hz = np.fft.rfftfreq(windows.shape[1], 1 / params.sample_rate)
    edges = np.searchsorted(hz, BANDS_HZ)
    bands = np.stack([power[:, lo:hi].sum(axis=1) for lo, hi in zip(edges, edges[1:], strict=False)], axis=1)
    band_level = 10 * np.log10(bands + 1e-12)
    audible = level >= float(level.max()) - params.weak_range_db
    band_floor = np.quantile(band_level[audible], params.noise_percentile / 100, axis=0)
    above = (band_level - band_floor[None, :]).max(axis=1) >= margin_db
    return above & audible


def _widen(core: tuple[int, int], weak: np.ndarray, max_gap: int) -> tuple[int, int]:
    """Grow (first, last) through weak frames, bridging gaps of up to max_gap frames (the
    closure before a stop's release: the "k" of "six" between its vowel and its last "s")."""
    first, last = core
    while True:
        before = np.flatnonzero(weak[max(0, first - max_gap - 1) : first])
        if before.size == 0:
            break
        first = max(0, first - max_gap - 1) + int(before[0])
    while True:
        after = np.flatnonzero(weak[last + 1 : last + max_gap + 2])
        if after.size == 0:
            break
        last = last + 1 + int(after[-1])
    return first, last


def word_frames(wave: np.ndarray, params: AudioParams) -> tuple[int, int, int]:
    """(first, last, hop): the word spans frames first..last of 20 ms frames every `hop`
    samples (10 ms) of the high-passed wave."""
    frame, hop = params.sample_rate // 50, params.sample_rate // 100
    padded = np.pad(wave, (0, max(0, frame - wave.size)))
    windows = sliding_window_view(padded, frame)[::hop]
    rms = np.sqrt(np.square(windows).mean(axis=1))
    level = 20 * np.log10(rms + np.float32(1e-10))
    first, last = _core(level, np.square(rms), params)
    if params.weak_margin_db is None:  # checkpoints trained before the second pass
        return first, last, hop
    weak = _stand_out(windows.astype(np.float64), level, params.weak_margin_db, params)
    first, last = _widen((first, last), weak, round(params.weak_gap_s * 100))
    return first, last, hop
