"""Recording conditions that real uploads fail on, applied to four sources of words:
espeak-ng voices (never used in training), two real voices (training.ood.real_voice: ten words
each, never used in training) and the FSDD validation takes (the training speakers, so a drop
there is the condition's, not the voice's).

* `long_silence_44k1_stereo` / `long_silence_48k_stereo`: a phone or editor take of 1.5-2.7 s
  with the word somewhere inside and a quiet room-noise floor 36-46 dB below the word's peak
  (never digital silence);
* `laptop_8k_1s`: a laptop microphone at 8 kHz, band-limited to 300-3,000 Hz, a fixed 1.0 s
  window that may clip the word's first or last tenth, fan noise at 10-30 dB SNR;
* `held_take_44k1_stereo` / `held_take_48k_mono`: what "hold to record" produces: 0.3-2 s of
  room tone before and after the word, the click of the button pressed and released (up to
  2 dB louder than the word), and often a breath before or after it;
* `reference`: the same word at 16 kHz mono with 0.1 s of digital silence around it, the
  baseline each condition is compared with.

Every clip is seeded by its name (`seed_of`), so the bytes are identical on every run.
"""

import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torchaudio

from models.data import DIGIT_WORDS, fsdd_items
from models.wav import read_wav, write_wav
from training.ood import seed_of
from training.ood.real_voice import Word, allison_words, spokennumbers_words
from training.ood.speech import VOICES, OodAudio, Voice, espeak_word
from training.ood.take_noises import breath, click

Renderer = Callable[[np.ndarray, int, np.random.Generator], tuple[bytes, str]]
AUDIO_CONDITIONS = (
    "reference",
    "long_silence_44k1_stereo",
    "long_silence_48k_stereo",
    "held_take_44k1_stereo",
    "held_take_48k_mono",
    "laptop_8k_1s",
)
SOURCES = ("espeak", "allison", "spokennumbers", "fsdd")


def espeak_words(voices: Sequence[Voice] = VOICES) -> list[Word]:
    """Every digit word in every OOD voice, as espeak-ng writes it (mono, 22.05 kHz)."""
    words: list[Word] = []
    with tempfile.TemporaryDirectory(prefix="digitbridge-ood-") as tmp:
        for voice in voices:
            for label, text in enumerate(DIGIT_WORDS):
                samples, rate = espeak_word(text, voice, Path(tmp))
                words.append((f"{voice.key}_{label}", label, samples, rate))
    return words


def fsdd_words(data_dir: Path, limit: int | None = None) -> list[Word]:
    """FSDD validation takes (0-4) as mono samples; `limit` keeps every n-th for small runs."""
    items = fsdd_items(Path(data_dir), "validation")
    if limit is not None:
        items = items[:: max(1, len(items) // limit)][:limit]
    words: list[Word] = []
    for item in items:
        samples, rate = read_wav(item.path.read_bytes(), 4_000, 192_000, 10.0)
        words.append((item.path.stem, item.label, samples.mean(axis=0).astype(np.float32), rate))
    return words


def _resampled(word: np.ndarray, word_rate: int, rate: int, peak_dbfs: float) -> np.ndarray:
    """The word at `rate`, scaled to the given peak level."""
    out = torchaudio.functional.resample(torch.from_numpy(word), word_rate, rate).numpy().astype(np.float64)
    return out * 10 ** (peak_dbfs / 20) / max(float(np.abs(out).max()), 1e-9)


def _filtered(x: np.ndarray, rate: int, low_hz: float | None, high_hz: float | None) -> np.ndarray:
    """Band-limit with two passes of each biquad (a steeper roll-off, as small microphones have)."""
    t = torch.from_numpy(x.astype(np.float32))
    for _ in range(2):
        if low_hz is not None:
            t = torchaudio.functional.highpass_biquad(t, rate, low_hz)
        if high_hz is not None:
            t = torchaudio.functional.lowpass_biquad(t, rate, high_hz)
    return t.numpy().astype(np.float64)


def room_noise(rng: np.random.Generator, frames: int, rate: int) -> np.ndarray:
    """Unit-RMS noise that falls off above ~1 kHz, like a quiet room heard by a phone."""
    white = torch.from_numpy(rng.standard_normal(frames).astype(np.float32))
    pole = float(np.exp(-2 * np.pi * 1_000 / rate))
    a = torch.tensor([1.0, -pole], dtype=torch.float32)
    b = torch.tensor([1.0 - pole, 0.0], dtype=torch.float32)
    pink = torchaudio.functional.lfilter(white, a, b, clamp=False).numpy().astype(np.float64)
    return pink / (pink.std() + 1e-12)


def _reference(word: np.ndarray, word_rate: int, rng: np.random.Generator) -> tuple[bytes, str]:
    rate = 16_000
    speech = _resampled(word, word_rate, rate, -3.0)
    pad = np.zeros(rate // 10)
    samples = np.concatenate([pad, speech, pad])[None].astype(np.float32)
    return write_wav(samples, rate), "16 kHz mono, 0.1 s pads"


def _long_silence(rate: int, encoding: str) -> Renderer:
    def render(word: np.ndarray, word_rate: int, rng: np.random.Generator) -> tuple[bytes, str]:
        peak = float(rng.uniform(-12.0, -3.0))
        below = float(rng.uniform(36.0, 46.0))  # noise floor RMS this far below the word's peak
        speech = _resampled(word, word_rate, rate, peak)
        total = max(int(rng.uniform(1.5, 2.7) * rate), speech.size + int(0.4 * rate))
        start = int(0.2 * rate) + int(rng.uniform(0, 1) * (total - speech.size - int(0.4 * rate)))
        out = np.zeros((2, total))
        out[0, start : start + speech.size] = speech
        out[1, start + 3 : start + speech.size] = 0.9 * speech[:-3]  # the second mic hears it later
        floor = 10 ** ((peak - below) / 20)
        out += floor * room_noise(rng, total, rate)[None]  # one room, heard by both microphones
        out += 0.3 * floor * rng.standard_normal(out.shape)  # and each microphone's own hiss
        samples = out.clip(-1, 1).astype(np.float32)
        if encoding == "float32":
            data = write_wav(samples, rate, bits=32, encoding="float")
        else:
            data = write_wav(samples, rate, bits=16, software="Lavf60.16.100")
        what = f"{total / rate:.2f} s {rate} Hz stereo {encoding}, peak {peak:.1f} dBFS"
        return data, f"{what}, noise floor {below:.0f} dB below the peak"

    return render


def _held_take(rate: int, channels: int) -> Renderer:
    def render(word: np.ndarray, word_rate: int, rng: np.random.Generator) -> tuple[bytes, str]:
        peak_db = float(rng.uniform(-12.0, -3.0))
        peak = 10 ** (peak_db / 20)
        speech = _resampled(word, word_rate, rate, peak_db)
        before, after = (int(rng.uniform(0.3, 2.0) * rate) for _ in range(2))
        total = before + speech.size + after
        mono = np.zeros(total)
        mono[before : before + speech.size] = speech
        events = []
        for where, p in (("before", 0.7), ("after", 0.4)):  # an in-breath, an out-breath
            sound = breath(rng, rate) * peak * 10 ** (-float(rng.uniform(24.0, 34.0)) / 20)
            gap = int(rng.uniform(0.05, 0.35) * rate)
            start = before - gap - sound.size if where == "before" else before + speech.size + gap
            if rng.random() < p and 0 <= start and start + sound.size <= total:
                mono[start : start + sound.size] += sound
                events.append(f"breath {where}")
        out = np.stack([mono] + [np.pad(0.9 * mono[:-3], (3, 0))] * (channels - 1))  # mics hear it apart
        below = float(rng.uniform(40.0, 55.0))
        floor = peak * 10 ** (-below / 20)
        out += floor * room_noise(rng, total, rate)[None] + 0.3 * floor * rng.standard_normal(out.shape)
        for where in ("press", "release"):  # the button's clicks reach every microphone at once
            sound = click(rng, rate) * peak * 10 ** (float(rng.uniform(-18.0, 2.0)) / 20)
            offset = int(rng.uniform(0.02, 0.25) * rate)
            start = offset if where == "press" else total - offset - sound.size
            if rng.random() < 0.85:
                out[:, start : start + sound.size] += sound
                events.append(f"{where} click")
        data = write_wav(out.clip(-1, 1).astype(np.float32), rate, bits=16)
        seconds = f"{before / rate:.2f} + {speech.size / rate:.2f} + {after / rate:.2f} s"
        what = f"{seconds} at {rate} Hz x{channels}"
        return data, f"{what}, room tone {below:.0f} dB under the peak, {', '.join(events) or 'no noises'}"

    return render


def _laptop(word: np.ndarray, word_rate: int, rng: np.random.Generator) -> tuple[bytes, str]:
    rate, window = 8_000, 8_000  # a fixed 1.0 s capture window
    speech = _filtered(_resampled(word, word_rate, rate, 0.0), rate, 300.0, 3_000.0)
    speech *= 10 ** (float(rng.uniform(-9.0, -3.0)) / 20) / max(float(np.abs(speech).max()), 1e-9)
    # the window may open late or close early: up to a tenth of the word is cut at one end (a
    # word longer than ~1.1 s cannot fit: its first tenth is cut and the window ends inside it)
    earliest = -0.1 * speech.size
    offset = int(rng.uniform(earliest, max(earliest, window - 0.9 * speech.size)))
    out = np.zeros(window)
    lo, hi = max(0, offset), min(window, offset + speech.size)
    out[lo:hi] = speech[lo - offset : hi - offset]
    snr = float(rng.uniform(10.0, 30.0))
    fan = _filtered(rng.standard_normal(window), rate, 100.0, 3_800.0)
    out += fan / (fan.std() + 1e-12) * np.sqrt(np.mean(speech**2)) * 10 ** (-snr / 20)
    data = write_wav(out.clip(-1, 1)[None].astype(np.float32), rate, bits=16)
    return data, f"8 kHz 300-3000 Hz, 1.0 s window at {offset / rate:+.2f} s, fan noise {snr:.0f} dB SNR"


_RENDERERS: dict[str, Renderer] = {
    "reference": _reference,
    "long_silence_44k1_stereo": _long_silence(44_100, "pcm16"),
    "long_silence_48k_stereo": _long_silence(48_000, "float32"),
    "held_take_44k1_stereo": _held_take(44_100, 2),
    "held_take_48k_mono": _held_take(48_000, 1),
    "laptop_8k_1s": _laptop,
}


def render_conditions(
    words: Sequence[Word], source: str, conditions: Sequence[str] = AUDIO_CONDITIONS
) -> list[OodAudio]:
    """Each word recorded under each condition: OodAudio with group = source, style = condition."""
    clips: list[OodAudio] = []
    for condition in conditions:
        for name, label, samples, rate in words:
            clip_name = f"{condition}_{source}_{name}"
            data, what = _RENDERERS[condition](samples, rate, np.random.default_rng(seed_of(clip_name)))
            clips.append(OodAudio(clip_name, label, data, f"{source} {name}: {what}", source, condition))
    return clips


def condition_speech(
    data_dir: Path,
    voices: Sequence[Voice] = VOICES,
    conditions: Sequence[str] = AUDIO_CONDITIONS,
    fsdd_limit: int | None = None,
    voices_dir: Path | None = None,
) -> list[OodAudio]:
    """The recording-condition set: espeak-ng voices, the real voices and FSDD validation takes
    under every condition (`voices_dir`: where the downloaded real voice is kept)."""
    return (
        render_conditions(espeak_words(voices), "espeak", conditions)
        + render_conditions(allison_words(), "allison", conditions)
        + render_conditions(spokennumbers_words(voices_dir), "spokennumbers", conditions)
        + render_conditions(fsdd_words(data_dir, fsdd_limit), "fsdd", conditions)
    )
