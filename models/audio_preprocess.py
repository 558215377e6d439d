"""Audio bytes -> the audio encoder's input (part of the one path shared by training,
indexing and serving; models.preprocess dispatches uploads here).

Audio is downmixed, resampled to 8 kHz, trimmed to the word and turned into a fixed size,
per-utterance standardised log-mel spectrogram.

numpy and scipy only, so that a process serving requests need not import torch. Every step
but one computes what the torchaudio calls the committed weights were trained with computed
(functional.resample with its defaults, functional.highpass_biquad, transforms.MelSpectrogram
with f_min=20, torch.quantile, torch.nn.functional.interpolate): tests/models/test_audio_parity.py
holds each step against torchaudio itself. The exception is the word detector's weak-edge pass
(models.word_detect), added later in numpy only and tested on its own.
"""

import math
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import lfilter

from models.compressed_audio import read_compressed
from models.cpu_budget import check_budget
from models.encoder_config import AudioParams
from models.media_errors import CorruptMediaError
from models.wav import read_wav
from models.word_detect import word_frames


def decode_audio(data: bytes, params: AudioParams, fmt: str = "wav") -> tuple[np.ndarray, int]:
    """Audio bytes of format `fmt` (models.media_types) -> mono float32 waveform (frames,) and
    its sample rate. WAV has its own strict reader; the compressed formats go through FFmpeg."""
    limits = (params.min_input_rate, params.max_input_rate, params.max_seconds)
    if fmt == "wav":
        samples, rate = read_wav(data, *limits)
    else:
        samples, rate = read_compressed(data, fmt, *limits)
    return samples.mean(axis=0).astype(np.float32, copy=False), rate


RATE_STEP = 25  # Hz; every standard rate (8, 11.025, 16, 22.05, 44.1, 48, 96 kHz) is a multiple

# Band-limited (windowed-sinc) resampling, as torchaudio.functional.resample's defaults: a
# Hann-windowed sinc reaching 6 zero crossings each side, its cut-off 0.99 of the lower of
# the two Nyquist frequencies.
SINC_ZERO_CROSSINGS = 6
SINC_ROLLOFF = 0.99


@lru_cache(maxsize=8)  # the standard rates and a few odd ones, each well under 1 MB
def _sinc_kernel(orig_rate: int, new_rate: int) -> tuple[np.ndarray, np.ndarray, int, int]:
    """(filters, starts, width, down) for resampling orig_rate -> new_rate.

    With g = gcd of the rates, every `down` = orig_rate / g input samples give `up` =
    new_rate / g output samples, and output j of each such group (phase j) is the same filter
    applied to the input shifted by `down`: one filter per phase, over the taps from `width`
    samples before the group to `width` after it. Phase j's filter is non-zero only inside
    its window, ~2 * 6 * max(1, down / up) taps from starts[j]; filters[j] holds those.
    """
    g = math.gcd(orig_rate, new_rate)
    down, up = orig_rate // g, new_rate // g
    cutoff = min(down, up) * SINC_ROLLOFF  # in cycles per group of `down` input samples
    width = math.ceil(SINC_ZERO_CROSSINGS * down / cutoff)
    taps = 2 * width + down
    # Built in float32, step by step as torchaudio builds it for a float32 waveform: the
    # checkpoint was trained on those filters, and float64 ones differ from them by up to
    # 2e-5 of the peak at 11.025 kHz.
    f32, zeros = np.float32, np.float32(SINC_ZERO_CROSSINGS)
    # Time from output instant j / up to input sample (tap - width) / down, in groups, in
    # units of the filter's zero crossings (whole numbers at the sinc's zeros), cut at the
    # window's edge.
    to_tap = np.arange(-width, width + down, dtype=f32) / f32(down)
    from_output = np.arange(0, -up, -1, dtype=f32) / f32(up)
    crossings = np.clip((from_output[:, None] + to_tap[None, :]) * f32(cutoff), -zeros, zeros)
    window = np.cos(crossings * f32(math.pi) / zeros / f32(2)) ** 2
    phase = crossings * f32(math.pi)
    sinc = np.sin(phase) / np.where(phase == 0, f32(1), phase)
    sinc[phase == 0] = 1
    full = sinc * (window * f32(cutoff / down))  # (up, taps); unit DC gain
    # Past the window's edge (the clipped taps) the window is zero: cos(pi / 2) ** 2, ~2e-15
    # in float32, times sinc(6) ~1e-7. Only the taps inside it are kept.
    inside = np.abs(crossings) < zeros
    kept = int(inside.sum(axis=1).max())
    starts = np.minimum(inside.argmax(axis=1), taps - kept)
    filters = np.take_along_axis(full, starts[:, None] + np.arange(kept)[None, :], axis=1)
    filters.flags.writeable = starts.flags.writeable = False  # shared by every call through the cache
    return filters, starts, width, down


def _resample(wave: np.ndarray, orig_rate: int, new_rate: int) -> np.ndarray:
    """Windowed-sinc resampling of a float32 waveform (see _sinc_kernel), in this thread:
    einsum's loops, not a BLAS thread pool, so that the CPU budget sees all of it and
    concurrent uploads do not fight over the cores."""
    if orig_rate == new_rate:
        return wave
    filters, starts, width, down = _sinc_kernel(orig_rate, new_rate)
    up, kept = filters.shape
    length = wave.shape[0]
    groups = length // down + 1  # the last may be cut below
    source = np.zeros(groups * down + 2 * width, dtype=np.float32)  # zeros around the wave
    source[width : width + length] = wave
    windows = sliding_window_view(source, kept)  # every run of `kept` samples, a view
    out = np.empty((up, groups), dtype=np.float32)
    for j in range(up):  # phase j: one window every `down` samples, from its first tap
        np.einsum("gt,t->g", windows[starts[j] :: down][:groups], filters[j], out=out[j])
    return out.T.reshape(-1)[: math.ceil(up * length / down)]


def to_model_rate(wave: np.ndarray, rate: int, params: AudioParams) -> np.ndarray:
    if rate == params.sample_rate:
        return wave
    # The sinc resampler's kernel is built over (model rate / g) x (rate / g) taps, g = gcd of
    # the two: for 44,101 Hz (g = 1) that is 8,000 x 44,101 floats, gigabytes and a minute of
    # CPU from a 100 kB upload. An odd rate is read as the nearest multiple of RATE_STEP (a
    # pitch change under 0.4% at the slowest accepted rate), which keeps g >= 25 when the model
    # rate is a multiple of 25 (8 kHz is): at most 320 x 7,971 taps (191,975 Hz: 10 MB, ~60 ms
    # to build, once per rate while cached), of which ~290 per phase are applied.
    usable = max(RATE_STEP, round(rate / RATE_STEP) * RATE_STEP)
    return _resample(wave, usable, params.sample_rate)


def wave_at_model_rate(data: bytes, params: AudioParams, fmt: str = "wav") -> np.ndarray:
    """Audio bytes -> mono waveform at the model's sample rate (training augments it here)."""
    wave, rate = decode_audio(data, params, fmt)
    check_budget("decode")
    return to_model_rate(wave, rate, params)


def highpass(wave: np.ndarray, rate: int, cutoff_hz: float, q: float = 0.707) -> np.ndarray:
    """Second-order high-pass (the RBJ cookbook biquad, as torchaudio's highpass_biquad),
    its output clipped to [-1, 1] as torchaudio's lfilter clamps by default."""
    w0 = 2 * math.pi * cutoff_hz / rate
    alpha = math.sin(w0) / (2 * q)
    cos_w0 = math.cos(w0)
    b = [(1 + cos_w0) / 2, -(1 + cos_w0), (1 + cos_w0) / 2]
    a = [1 + alpha, -2 * cos_w0, 1 - alpha]
    filtered = lfilter(b, a, wave.astype(np.float64))
    return np.clip(filtered, -1.0, 1.0).astype(np.float32)


def word_bounds(wave: np.ndarray, params: AudioParams) -> tuple[np.ndarray, int, int]:
    """(high-passed wave, start, end): the word is high-passed[start:end] (models.word_detect)."""
    if wave.size > 0:
        # DC offsets and mains hum (cheap microphones) would read as sound: remove them first.
        wave = highpass(wave - wave.mean(), params.sample_rate, 80.0)
    if wave.size == 0 or float(np.abs(wave).max()) < params.silence_floor:
        raise CorruptMediaError("the recording is silent: no speech was found", "silent_audio")
    first, last, hop = word_frames(wave, params)
    frame = 2 * hop  # 20 ms frames every 10 ms
    margin = 3 * hop  # keep 30 ms around the word so onsets are not clipped
    start = max(0, first * hop - margin)
    end = min(wave.size, last * hop + frame + margin)
    if end - start < params.n_fft:  # shorter than one spectrogram window: no word fits in it
        raise CorruptMediaError(
            f"the recording holds {1000 * (end - start) / params.sample_rate:.0f} ms of sound; "
            f"at least {1000 * params.n_fft / params.sample_rate:.0f} ms are needed",
            "audio_too_short",
        )
    return wave, start, end


def trim_silence(wave: np.ndarray, params: AudioParams) -> np.ndarray:
    """Cut the silence and background noise around the word (models.word_detect)."""
    filtered, start, end = word_bounds(wave, params)
    return filtered[start:end]


def _hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)  # the HTK scale


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


@lru_cache(maxsize=4)
def _mel_setup(params: AudioParams) -> tuple[np.ndarray, np.ndarray]:
    """(periodic Hann window (n_fft,), mel filterbank (n_fft // 2 + 1, n_mels)), float32.

    Triangles on the HTK mel scale between 20 Hz and Nyquist, each peaking at 1 and not
    area-normalised, over bins spaced evenly from 0 to sample_rate // 2: torchaudio's
    MelSpectrogram defaults (norm=None, mel_scale="htk")."""
    n = params.n_fft
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
    bins = np.linspace(0, params.sample_rate // 2, n // 2 + 1)
    mels = np.linspace(_hz_to_mel(20.0), _hz_to_mel(params.sample_rate / 2), params.n_mels + 2)
    edges = _mel_to_hz(mels)  # filter m rises from edges[m] to edges[m + 1], falls to edges[m + 2]
    rising = (bins[:, None] - edges[None, :-2]) / (edges[1:-1] - edges[:-2])
    falling = (edges[None, 2:] - bins[:, None]) / (edges[2:] - edges[1:-1])
    bank = np.maximum(0.0, np.minimum(rising, falling)).astype(np.float32)
    window = window.astype(np.float32)
    window.flags.writeable = bank.flags.writeable = False  # shared by every call through the cache
    return window, bank


def _stretch(spec: np.ndarray, size: int) -> np.ndarray:
    """(rows, t) -> (rows, size) by linear interpolation along time, sample centres aligned
    (torch.nn.functional.interpolate, mode="linear", align_corners=False)."""
    t = spec.shape[1]
    scale = np.float32(t / size)
    source = np.maximum((np.arange(size, dtype=np.float32) + np.float32(0.5)) * scale - np.float32(0.5), 0)
    left = source.astype(np.int64)
    right = np.minimum(left + 1, t - 1)
    weight = source - left.astype(np.float32)
    return (1 - weight) * spec[:, left] + weight * spec[:, right]


def log_mel(wave: np.ndarray, params: AudioParams) -> np.ndarray:
    """8 kHz waveform -> (1, n_mels, frames): standardised log-mel, fixed width."""
    window, bank = _mel_setup(params)
    half = params.n_fft // 2  # frames centred on every hop, the ends mirrored
    padded = np.pad(wave.astype(np.float32, copy=False), half, mode="reflect")
    frames = sliding_window_view(padded, params.n_fft)[:: params.hop_length] * window
    bins = np.fft.rfft(frames, axis=1)  # (t, n_fft // 2 + 1)
    power = np.square(bins.real) + np.square(bins.imag)
    spec = (power @ bank).T  # (n_mels, t)
    spec = np.log(spec + np.float32(1e-8))
    spec = (spec - spec.mean()) / (spec.std(ddof=1) + np.float32(1e-5))  # gain- and mic-level invariant
    t = spec.shape[1]
    if t > params.frames:  # long words are squeezed in time rather than cut
        spec = _stretch(spec, params.frames)
    elif t < params.frames:  # short words are centred on a silence-level floor
        left = (params.frames - t) // 2
        spec = np.pad(spec, ((0, 0), (left, params.frames - t - left)), constant_values=spec.min())
    return np.ascontiguousarray(spec[None], dtype=np.float32)


def speech_tensor(wave: np.ndarray, params: AudioParams) -> np.ndarray:
    """Waveform at the model rate -> the encoder's input: trimmed, (1, n_mels, frames) log-mel."""
    word = trim_silence(wave, params)
    check_budget("trim")
    return log_mel(word, params)


def audio_bytes_to_tensor(data: bytes, params: AudioParams, fmt: str = "wav") -> np.ndarray:
    wave = wave_at_model_rate(data, params, fmt)
    check_budget("resample")
    return speech_tensor(wave, params)
