"""WAV bytes -> the audio encoder's input (part of the one path shared by training,
indexing and serving; models.preprocess dispatches uploads here).

Audio is downmixed, resampled to 8 kHz, trimmed to the word and turned into a fixed size,
per-utterance standardised log-mel spectrogram.
"""

from functools import lru_cache

import torch
import torchaudio

from models.cpu_budget import check_budget
from models.encoder_config import AudioParams
from models.media_errors import CorruptMediaError
from models.wav import read_wav


def decode_audio(data: bytes, params: AudioParams) -> tuple[torch.Tensor, int]:
    """WAV bytes -> mono float32 waveform (frames,) and its sample rate."""
    samples, rate = read_wav(data, params.min_input_rate, params.max_input_rate, params.max_seconds)
    return torch.from_numpy(samples.mean(axis=0)), rate


RATE_STEP = 25  # Hz; every standard rate (8, 11.025, 16, 22.05, 44.1, 48, 96 kHz) is a multiple


def to_model_rate(wave: torch.Tensor, rate: int, params: AudioParams) -> torch.Tensor:
    if rate == params.sample_rate:
        return wave
    # The sinc resampler's kernel holds (model rate / g) x (rate / g) taps, g = gcd of the two:
    # for 44,101 Hz (g = 1) that is 8,000 x 44,101 floats, gigabytes and a minute of CPU from a
    # 100 kB upload. An odd rate is read as the nearest multiple of RATE_STEP (a pitch change
    # under 0.4% at the slowest accepted rate), which keeps g >= 25 when the model rate is a
    # multiple of 25 (8 kHz is): at most 320 x 7,680 taps.
    usable = max(RATE_STEP, round(rate / RATE_STEP) * RATE_STEP)
    return torchaudio.functional.resample(wave, usable, params.sample_rate)


def wave_at_model_rate(data: bytes, params: AudioParams) -> torch.Tensor:
    """WAV bytes -> mono waveform at the model's sample rate (training augments it here)."""
    wave, rate = decode_audio(data, params)
    check_budget("decode")
    return to_model_rate(wave, rate, params)


def _word_frames(rms: torch.Tensor, params: AudioParams) -> tuple[int, int]:
    """(first, last) frame of the word in frame levels `rms`.

    A frame is sound when it is within silence_db of the loudest frame *and* noise_margin_db
    above the noise floor (a low percentile of the frame levels): real takes are never
    digitally silent, and a phone's or a laptop's floor 35-50 dB under the word would
    otherwise pass as speech and keep the whole take. The floor rule never asks for more
    than word_range_db under the loudest frame, so quiet consonants of a tight clip stay.
    Of the runs of sound frames (gaps up to max_gap_s join a run), the one with the most
    energy is the word: a click or a cough a second away is not.
    """
    level = 20 * torch.log10(rms + 1e-10)
    loudest = float(level.max())
    floor = float(torch.quantile(level, params.noise_percentile / 100))
    threshold = max(
        loudest - params.silence_db, min(floor + params.noise_margin_db, loudest - params.word_range_db)
    )
    loud = torch.nonzero(level >= threshold).flatten().tolist()
    max_gap = round(params.max_gap_s * 100)  # frames: 10 ms hop
    runs, start = [], loud[0]
    for previous, frame in zip(loud, loud[1:], strict=False):
        if frame - previous > max_gap:
            runs.append((start, previous))
            start = frame
    runs.append((start, loud[-1]))
    energy = rms.pow(2)
    return max(runs, key=lambda run: float(energy[run[0] : run[1] + 1].sum()))


def trim_silence(wave: torch.Tensor, params: AudioParams) -> torch.Tensor:
    """Cut the silence and background noise around the word (see _word_frames)."""
    if wave.numel() > 0:
        # DC offsets and mains hum (cheap microphones) would read as sound: remove them first.
        wave = torchaudio.functional.highpass_biquad(wave - wave.mean(), params.sample_rate, 80.0)
    if wave.numel() == 0 or float(wave.abs().max()) < params.silence_floor:
        raise CorruptMediaError("the recording is silent: no speech was found", "silent_audio")
    frame, hop = params.sample_rate // 50, params.sample_rate // 100  # 20 ms frames, 10 ms hop
    padded = torch.nn.functional.pad(wave, (0, max(0, frame - wave.numel())))
    first, last = _word_frames(padded.unfold(0, frame, hop).pow(2).mean(dim=1).sqrt(), params)
    margin = 3 * hop  # keep 30 ms around the word so onsets are not clipped
    start = max(0, first * hop - margin)
    end = min(wave.numel(), last * hop + frame + margin)
    if end - start < params.n_fft:  # shorter than one spectrogram window: no word fits in it
        raise CorruptMediaError(
            f"the recording holds {1000 * (end - start) / params.sample_rate:.0f} ms of sound; "
            f"at least {1000 * params.n_fft / params.sample_rate:.0f} ms are needed",
            "audio_too_short",
        )
    return wave[start:end]


@lru_cache(maxsize=4)
def _mel_transform(params: AudioParams) -> torchaudio.transforms.MelSpectrogram:
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=params.sample_rate,
        n_fft=params.n_fft,
        hop_length=params.hop_length,
        n_mels=params.n_mels,
        f_min=20.0,
        f_max=params.sample_rate / 2,
        power=2.0,
    )


def log_mel(wave: torch.Tensor, params: AudioParams) -> torch.Tensor:
    """8 kHz waveform -> (1, n_mels, frames): standardised log-mel, fixed width."""
    with torch.no_grad():
        spec = _mel_transform(params)(wave.float())  # (n_mels, t)
    spec = torch.log(spec + 1e-8)
    spec = (spec - spec.mean()) / (spec.std() + 1e-5)  # gain- and mic-level invariant
    t = spec.shape[1]
    if t > params.frames:  # long words are squeezed in time rather than cut
        spec = torch.nn.functional.interpolate(
            spec[None], size=params.frames, mode="linear", align_corners=False
        )[0]
    elif t < params.frames:  # short words are centred on a silence-level floor
        left = (params.frames - t) // 2
        spec = torch.nn.functional.pad(spec, (left, params.frames - t - left), value=float(spec.min()))
    return spec.unsqueeze(0).contiguous()


def speech_tensor(wave: torch.Tensor, params: AudioParams) -> torch.Tensor:
    """Waveform at the model rate -> the encoder's input: trimmed, (1, n_mels, frames) log-mel."""
    word = trim_silence(wave, params)
    check_budget("trim")
    return log_mel(word, params)


def audio_bytes_to_tensor(data: bytes, params: AudioParams) -> torch.Tensor:
    wave = wave_at_model_rate(data, params)
    check_budget("resample")
    return speech_tensor(wave, params)
