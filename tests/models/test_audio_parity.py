"""models.audio_preprocess (numpy and scipy) against the torchaudio pipeline the committed
checkpoint was trained with, computed here with torch and torchaudio themselves: the same
waves at the model rate, the same word bounds, the same log-mels and, through the
checkpoint, the same embeddings, on real FSDD takes and on synthetic uploads at every
standard rate, mono and stereo, with silence, noise, hum and a DC offset around the word."""

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest
import torch
import torchaudio
from scipy.signal import resample_poly

from models import audio_preprocess
from models.encoder_config import AudioParams
from models.runtime import load_encoders
from models.settings import DEFAULT_CHECKPOINT, ModelSettings
from models.wav import read_wav, write_wav

# The torchaudio pipeline is the level rule alone: the weak-edge pass (models.word_detect) came
# after it, in numpy only, and has tests of its own (test_word_detect.py).
PARAMS = AudioParams(weak_margin_db=None)
RECORDINGS = ModelSettings().data_dir / "fsdd" / "recordings"
# Two digits from each of the six speakers, takes from both splits.
FSDD_TAKES = [
    "0_george_3.wav",
    "5_george_27.wav",
    "1_jackson_0.wav",
    "6_jackson_41.wav",
    "2_lucas_4.wav",
    "7_lucas_12.wav",
    "3_nicolas_1.wav",
    "8_nicolas_33.wav",
    "4_theo_2.wav",
    "9_theo_19.wav",
    "5_yweweler_0.wav",
    "0_yweweler_48.wav",
]
RATES = [8_000, 11_025, 16_000, 22_050, 44_100, 48_000]
ODD_RATES = [4_000, 7_993, 44_101, 96_000]  # upsampling, rates read as a RATE_STEP multiple, 96 kHz


# ----------------------------------------------------------------- the torchaudio pipeline


def _reference_word_frames(rms: torch.Tensor, params: AudioParams) -> tuple[int, int]:
    level = 20 * torch.log10(rms + 1e-10)
    loudest = float(level.max())
    floor = float(torch.quantile(level, params.noise_percentile / 100))
    threshold = max(
        loudest - params.silence_db, min(floor + params.noise_margin_db, loudest - params.word_range_db)
    )
    loud = torch.nonzero(level >= threshold).flatten().tolist()
    runs, start = [], loud[0]
    for previous, frame in zip(loud, loud[1:], strict=False):
        if frame - previous > round(params.max_gap_s * 100):
            runs.append((start, previous))
            start = frame
    runs.append((start, loud[-1]))
    energy = rms.pow(2)
    return max(runs, key=lambda run: float(energy[run[0] : run[1] + 1].sum()))


@dataclass
class Features:
    resampled: np.ndarray
    start: int
    end: int
    log_mel: np.ndarray  # (1, n_mels, frames)


def reference_features(data: bytes, params: AudioParams) -> Features:
    """What the torchaudio implementation of models.audio_preprocess computed."""
    samples, rate = read_wav(data, params.min_input_rate, params.max_input_rate, params.max_seconds)
    wave = torch.from_numpy(samples.mean(axis=0))
    if rate != params.sample_rate:
        step = audio_preprocess.RATE_STEP
        usable = max(step, round(rate / step) * step)
        wave = torchaudio.functional.resample(wave, usable, params.sample_rate)
    resampled = wave.numpy().copy()
    wave = torchaudio.functional.highpass_biquad(wave - wave.mean(), params.sample_rate, 80.0)
    frame, hop = params.sample_rate // 50, params.sample_rate // 100
    padded = torch.nn.functional.pad(wave, (0, max(0, frame - wave.numel())))
    first, last = _reference_word_frames(padded.unfold(0, frame, hop).pow(2).mean(dim=1).sqrt(), params)
    start, end = max(0, first * hop - 3 * hop), min(wave.numel(), last * hop + frame + 3 * hop)
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate=params.sample_rate,
        n_fft=params.n_fft,
        hop_length=params.hop_length,
        n_mels=params.n_mels,
        f_min=20.0,
        f_max=params.sample_rate / 2,
        power=2.0,
    )
    spec = torch.log(mel(wave[start:end]) + 1e-8)
    spec = (spec - spec.mean()) / (spec.std() + 1e-5)
    t = spec.shape[1]
    if t > params.frames:
        spec = torch.nn.functional.interpolate(
            spec[None], size=params.frames, mode="linear", align_corners=False
        )[0]
    elif t < params.frames:
        left = (params.frames - t) // 2
        spec = torch.nn.functional.pad(spec, (left, params.frames - t - left), value=float(spec.min()))
    return Features(resampled, start, end, spec.unsqueeze(0).numpy())


def numpy_features(data: bytes, params: AudioParams) -> Features:
    resampled = audio_preprocess.wave_at_model_rate(data, params)
    filtered, start, end = audio_preprocess.word_bounds(resampled, params)
    spec = audio_preprocess.audio_bytes_to_tensor(data, params)
    assert np.array_equal(audio_preprocess.trim_silence(resampled, params), filtered[start:end])
    assert np.array_equal(audio_preprocess.speech_tensor(resampled, params), spec)
    return Features(resampled, start, end, spec)


# ----------------------------------------------------------------- the uploads


def _fsdd_word(name: str) -> np.ndarray:
    samples, rate = read_wav((RECORDINGS / name).read_bytes(), 8_000, 8_000, 10.0)
    assert rate == 8_000
    return samples[0].astype(np.float64)


def synthetic_take(rate: int, channels: int, seed: int) -> bytes:
    """An FSDD word at `rate` (polyphase resampled), 0.2-0.9 s of quiet noise before and
    after it, mains hum and a DC offset; stereo channels differ in level and noise."""
    rng = np.random.default_rng(seed)
    word = _fsdd_word(FSDD_TAKES[seed % len(FSDD_TAKES)])
    g = math.gcd(rate, 8_000)
    word = resample_poly(word, rate // g, 8_000 // g)
    word *= rng.uniform(0.2, 0.9) / np.abs(word).max()
    lead, tail = (int(rng.uniform(0.2, 0.9) * rate) for _ in range(2))
    take = np.concatenate([np.zeros(lead), word, np.zeros(tail)])
    t = np.arange(take.size) / rate
    takes = []
    for channel in range(channels):
        noise = rng.standard_normal(take.size) * 10 ** (rng.uniform(-70, -50) / 20)
        hum = 0.003 * np.sin(2 * np.pi * 50 * t + channel)
        takes.append((1 - 0.3 * channel) * take + noise + hum + 0.01)
    return write_wav(np.stack(takes), rate, 16, "pcm")


def clipped_take() -> bytes:
    """A word whose DC offset jumps by full scale at its loudest sample (a microphone's bias
    settling): the high-pass passes the jump on top of the word, overshoots [-1, 1] and
    torchaudio's lfilter clamps it."""
    word = _fsdd_word("3_nicolas_1.wav")
    word = 0.5 * word / word.max()
    take = np.concatenate([np.zeros(3_000), word, np.zeros(3_000)])
    take += np.where(np.arange(take.size) < 3_000 + np.argmax(word), -0.5, 0.5)
    return write_wav(take[None, :], 8_000, 32, "float")


def long_take() -> bytes:
    """Three words 0.1 s apart: one word to the trimmer, longer than the model's 64 frames,
    so the log-mel is squeezed in time."""
    gap = np.zeros(800)
    words = [_fsdd_word(name) for name in ("6_jackson_41.wav", "8_nicolas_33.wav", "2_lucas_4.wav")]
    take = np.concatenate([np.zeros(2_000), words[0], gap, words[1], gap, words[2], np.zeros(2_000)])
    take = resample_poly(take, 441, 160)  # 22.05 kHz
    noise = np.random.default_rng(0).standard_normal((2, take.size)) * 1e-3
    return write_wav(0.5 * take / np.abs(take).max() + noise, 22_050, 24, "pcm")


def _uploads() -> dict[str, bytes]:
    uploads = {name: (RECORDINGS / name).read_bytes() for name in FSDD_TAKES}
    for i, rate in enumerate(RATES + ODD_RATES):
        for channels in (1, 2):
            uploads[f"synthetic-{rate}Hz-{channels}ch"] = synthetic_take(
                rate, channels, seed=2 * i + channels
            )
    uploads["clipped-highpass"] = clipped_take()
    uploads["long-word"] = long_take()
    return uploads


UPLOADS = _uploads()


@cache
def _pair(name: str) -> tuple[Features, Features]:
    data = UPLOADS[name]
    return reference_features(data, PARAMS), numpy_features(data, PARAMS)


# ----------------------------------------------------------------- the comparisons


@pytest.mark.parametrize("name", UPLOADS)
def test_the_same_wave_at_the_model_rate(name):
    reference, mine = _pair(name)
    assert mine.resampled.dtype == np.float32 and mine.resampled.shape == reference.resampled.shape
    np.testing.assert_allclose(mine.resampled, reference.resampled, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", UPLOADS)
def test_the_same_word_bounds(name):
    reference, mine = _pair(name)
    assert (mine.start, mine.end) == (reference.start, reference.end)


# Both sides compute the spectrogram with a float32 FFT (torch: MKL, numpy: pocketfft), whose
# rounding, ~1e-7 of a frame's loudest bin, is a visible share of the power in its quietest
# bins: in the lowest mel band (20-60 Hz, under the 80 Hz high-pass) the two differ by up to
# ~2e-3 standard deviations on these uploads, and a short word's padding (the spectrogram's
# minimum, often in that band) with it; elsewhere they agree within 2e-4. (Against a float64
# FFT, numpy's lowest bins on 0_george_3 are within 0.8%, torch's within 2.9%.) Over all
# 3,000 FSDD recordings the worst is 9e-3 (6_george_33's padding), the embeddings' cosine
# >= 0.9999996.
LOG_MEL_TOLERANCE = 1e-2
# The lowest band of a take whose high-pass rings down from a step (clipped-highpass): there the
# frames at the word's edges hold the float32 filter's decaying tail, whose last digits depend on
# the CPU's vector code (torchaudio filters in float32, models.audio_preprocess in float64). On
# an Intel Xeon without the earlier machines' code path they differ by 0.17 standard deviations
# in three cells of that band; the embeddings' cosine stays >= 0.999996 (test below).
LOWEST_BAND_TOLERANCE = 0.25


@pytest.mark.parametrize("name", UPLOADS)
def test_the_same_log_mel(name):
    reference, mine = _pair(name)
    assert mine.log_mel.dtype == np.float32
    assert mine.log_mel.shape == reference.log_mel.shape == (1, PARAMS.n_mels, PARAMS.frames)
    np.testing.assert_allclose(mine.log_mel[:, 1:], reference.log_mel[:, 1:], rtol=0, atol=LOG_MEL_TOLERANCE)
    np.testing.assert_allclose(
        mine.log_mel[:, 0], reference.log_mel[:, 0], rtol=0, atol=LOWEST_BAND_TOLERANCE
    )


def test_the_uploads_take_both_the_squeezing_and_the_padding_path():
    frames = {
        name: (mine.end - mine.start) // PARAMS.hop_length + 1
        for name in UPLOADS
        for _, mine in [_pair(name)]
    }
    assert frames["long-word"] > PARAMS.frames
    assert min(frames.values()) < PARAMS.frames


@pytest.mark.parametrize("t", [65, 77, 100, 128, 191, 500])
def test_squeezing_in_time_is_torchs_linear_interpolation(t):
    spec = np.random.default_rng(t).standard_normal((PARAMS.n_mels, t)).astype(np.float32)
    expected = torch.nn.functional.interpolate(
        torch.from_numpy(spec)[None], size=PARAMS.frames, mode="linear", align_corners=False
    )[0].numpy()
    np.testing.assert_allclose(audio_preprocess._stretch(spec, PARAMS.frames), expected, rtol=0, atol=1e-6)


def test_the_clipped_take_reaches_the_clamp():
    samples, _ = read_wav(UPLOADS["clipped-highpass"], 8_000, 8_000, 10.0)
    wave = torch.from_numpy(samples[0])
    unclamped = torchaudio.functional.lfilter(
        wave - wave.mean(),
        *(torch.tensor(c, dtype=torch.float32) for c in _highpass_coefficients(8_000, 80.0)),
        clamp=False,
    )
    assert float(unclamped.abs().max()) > 1.0


def _highpass_coefficients(rate: int, cutoff: float, q: float = 0.707) -> tuple[list[float], list[float]]:
    w0 = 2 * math.pi * cutoff / rate
    alpha, cos = math.sin(w0) / 2 / q, math.cos(w0)
    return [1 + alpha, -2 * cos, 1 - alpha], [(1 + cos) / 2, -1 - cos, (1 + cos) / 2]


def test_the_committed_checkpoint_embeds_them_alike():
    encoders = load_encoders(DEFAULT_CHECKPOINT, "cpu")
    pairs = [_pair(name) for name in UPLOADS]
    reference = np.stack([r.log_mel for r, _ in pairs])
    mine = np.stack([m.log_mel for _, m in pairs])
    with torch.no_grad():
        expected, expected_probs = encoders.classify("audio", reference)
        got, got_probs = encoders.classify("audio", mine)
    cosine = (expected * got).sum(1) / (np.linalg.norm(expected, axis=1) * np.linalg.norm(got, axis=1))
    assert cosine.min() >= 0.9999, dict(zip(UPLOADS, cosine.round(6).tolist(), strict=True))
    assert np.array_equal(expected_probs.argmax(1), got_probs.argmax(1))
