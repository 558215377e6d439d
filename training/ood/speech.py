"""OOD speech: every digit word spoken by espeak-ng voices the training set never had, then
saved as devices and editors save uploads (rate, channels, encoding, padding, noise, hum)."""

import hashlib
import json
import math
import shutil
import subprocess
import tempfile
import wave
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torchaudio

from models.data import DIGIT_WORDS
from models.settings import ModelSettings
from models.wav import write_wav
from training.ood import GENERATOR_VERSION, seed_of


@dataclass(frozen=True)
class Voice:
    key: str
    voice: str  # espeak-ng -v
    pitch: int  # espeak-ng -p, 0-99
    speed: int  # espeak-ng -s, words per minute
    group: str  # female | child | klatt | male (synthetic control)


@dataclass(frozen=True)
class AudioUpload:
    """How a device or an editor would save the clip."""

    key: str
    rate: int
    channels: int
    encoding: str  # pcm16 | pcm24 | float32
    pad_s: tuple[float, float]  # silence before/after the word, drawn uniformly in this range
    peak_dbfs: float  # loudness of the word
    noise_dbfs: float  # RMS of the background noise floor
    hum_dbfs: float | None = None  # 50 Hz mains hum (RMS), None for none
    dc_offset: float = 0.0  # cheap microphones and sound cards add a constant offset


VOICES: tuple[Voice, ...] = (
    Voice("f1", "en+f1", 60, 150, "female"),
    Voice("f2us", "en-us+f2", 65, 140, "female"),
    Voice("f3", "en+f3", 70, 170, "female"),
    Voice("f4sc", "en-gb-scotland+f4", 62, 130, "female"),
    Voice("child1", "en+f4", 92, 165, "child"),
    Voice("child2", "en-us+f5", 99, 180, "child"),
    Voice("child3", "en+f2", 95, 120, "child"),
    Voice("klatt", "en+klatt", 75, 155, "klatt"),
    Voice("male", "en-us+m3", 45, 150, "male"),
    # Generator version 2: four times the voices, so a condition's 360 clips resolve about
    # +-2.5 points at 0.95 instead of +-5 (other accents, espeak-ng's named variants, pitches
    # and rates), in the same proportions of women, children, Klatt and control men.
    Voice("f5", "en+f5", 55, 160, "female"),
    Voice("f4us", "en-us+f4", 68, 145, "female"),
    Voice("f3rp", "en-gb-x-rp+f3", 64, 150, "female"),
    Voice("f2car", "en-029+f2", 66, 155, "female"),
    Voice("annie", "en+Annie", 60, 150, "female"),
    Voice("alicia", "en-us+Alicia", 62, 140, "female"),
    Voice("belinda", "en+belinda", 58, 165, "female"),
    Voice("linda", "en+linda", 66, 135, "female"),
    Voice("steph", "en+steph", 63, 150, "female"),
    Voice("anika", "en-us+anika", 60, 160, "female"),
    Voice("f1lan", "en-gb-x-gbclan+f1", 70, 145, "female"),
    Voice("f5nyc", "en-us-nyc+f5", 67, 170, "female"),
    Voice("child4", "en-us+f1", 90, 170, "child"),
    Voice("child5", "en+f5", 96, 150, "child"),
    Voice("child6", "en-gb-x-rp+f4", 94, 140, "child"),
    Voice("child7", "en-us+Annie", 93, 175, "child"),
    Voice("child8", "en+steph", 97, 160, "child"),
    Voice("child9", "en-029+f3", 91, 130, "child"),
    Voice("child10", "en+linda", 98, 150, "child"),
    Voice("child11", "en-us+Alicia", 95, 185, "child"),
    Voice("child12", "en-gb-scotland+f2", 92, 145, "child"),
    Voice("klatt2", "en-us+klatt2", 70, 150, "klatt"),
    Voice("klatt3", "en+klatt3", 80, 140, "klatt"),
    Voice("klatt4", "en-gb+klatt4", 72, 160, "klatt"),
    Voice("male2", "en+m1", 40, 150, "male"),
    Voice("male3", "en-gb-x-rp+m7", 50, 140, "male"),
    Voice("male4", "en-029+m2", 45, 160, "male"),
)

UPLOADS: tuple[AudioUpload, ...] = (
    AudioUpload("44k1_stereo_s16", 44_100, 2, "pcm16", (0.5, 1.0), -3.0, -60.0, dc_offset=0.006),
    AudioUpload("48k_mono_f32", 48_000, 1, "float32", (0.5, 1.0), -18.0, -72.0),
    AudioUpload("16k_mono_s24", 16_000, 1, "pcm24", (0.3, 0.8), -6.0, -62.0, hum_dbfs=-55.0),
    AudioUpload("8k_mono_s16", 8_000, 1, "pcm16", (0.05, 0.3), -1.0, -58.0),
)


@dataclass(frozen=True)
class OodAudio:
    name: str
    label: int
    bytes: bytes
    description: str
    group: str = ""  # voice group
    style: str = ""  # upload format key


def _espeak_version() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError(
            "espeak-ng is not installed; the OOD speech set needs it (apt-get install espeak-ng)"
        )
    return subprocess.run([exe, "--version"], capture_output=True, text=True, check=True).stdout.strip()


def espeak_word(word: str, voice: Voice, workdir: Path) -> tuple[np.ndarray, int]:
    """Speak one word; returns mono float32 samples in [-1, 1] and espeak's rate."""
    out = workdir / "say.wav"
    options = ["-v", voice.voice, "-p", str(voice.pitch), "-s", str(voice.speed), "-w", str(out)]
    subprocess.run(["espeak-ng", *options, word], check=True, capture_output=True)
    with wave.open(str(out), "rb") as reader:
        rate, width = reader.getframerate(), reader.getsampwidth()
        raw = reader.readframes(reader.getnframes())
    if width != 2:
        raise RuntimeError(f"espeak-ng wrote {8 * width}-bit audio; expected 16-bit")
    return np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0, rate


def _save_as(samples: np.ndarray, upload: AudioUpload) -> bytes:
    """The WAV layout common tools use for each encoding: ffmpeg/browsers tag 16-bit files
    with a LIST/INFO chunk, 24-bit goes out as WAVE_FORMAT_EXTENSIBLE, float carries `fact`."""
    if upload.encoding == "pcm16":
        return write_wav(samples, upload.rate, bits=16, software="Lavf60.16.100")
    if upload.encoding == "pcm24":
        return write_wav(samples, upload.rate, bits=24, extensible=True)
    if upload.encoding == "float32":
        return write_wav(samples, upload.rate, bits=32, encoding="float")
    raise ValueError(f"unknown encoding {upload.encoding!r}")


def render_upload(word: np.ndarray, word_rate: int, upload: AudioUpload, seed: int) -> bytes:
    """Place a spoken word into a recording as `upload` describes: rate, padding, noise, format."""
    rng = np.random.default_rng(seed)
    wave_t = torchaudio.functional.resample(torch.from_numpy(word), word_rate, upload.rate)
    speech = wave_t.numpy().astype(np.float64)
    speech *= 10 ** (upload.peak_dbfs / 20) / max(float(np.abs(speech).max()), 1e-9)
    before, after = (int(rng.uniform(*upload.pad_s) * upload.rate) for _ in range(2))
    total = before + speech.size + after
    out = np.zeros((upload.channels, total))
    for ch in range(upload.channels):
        delay = 3 * ch  # the second microphone of a phone hears the word a little later
        gain = 1.0 - 0.12 * ch
        out[ch, before + delay : before + delay + speech.size - delay] = gain * speech[: speech.size - delay]
    noise_rms = 10 ** (upload.noise_dbfs / 20)
    t = np.arange(total) / upload.rate
    out += rng.normal(0.0, noise_rms, size=out.shape)
    for _ in range(3):  # a little low-frequency room rumble, bounded (not a random walk)
        freq, phase = rng.uniform(15, 60), rng.uniform(0, 2 * np.pi)
        out += 0.5 * noise_rms * np.sin(2 * np.pi * freq * t + phase)
    out += upload.dc_offset
    if upload.hum_dbfs is not None:
        hum = math.sqrt(2) * 10 ** (upload.hum_dbfs / 20)
        out += hum * (np.sin(2 * np.pi * 50 * t) + 0.3 * np.sin(2 * np.pi * 150 * t + 0.4))
    return _save_as(out.astype(np.float32), upload)


def speech_cache_key(voices: Sequence[Voice] = VOICES, uploads: Sequence[AudioUpload] = UPLOADS) -> str:
    spec = {
        "version": GENERATOR_VERSION,
        "espeak": _espeak_version(),
        "torchaudio": torchaudio.__version__,
        "voices": [asdict(v) for v in voices],
        "uploads": [asdict(u) for u in uploads],
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def generate_speech(
    voices: Sequence[Voice] = VOICES, uploads: Sequence[AudioUpload] = UPLOADS
) -> list[OodAudio]:
    """Generate every (voice, upload, digit) clip without touching any cache."""
    clips: list[OodAudio] = []
    with tempfile.TemporaryDirectory(prefix="digitbridge-ood-") as tmp:
        for voice in voices:
            for label, word in enumerate(DIGIT_WORDS):
                spoken, rate = espeak_word(word, voice, Path(tmp))
                for upload in uploads:
                    name = f"{voice.key}_{upload.key}_{label}"
                    spoken_as = f"espeak-ng -v {voice.voice} -p {voice.pitch} -s {voice.speed} '{word}'"
                    clips.append(
                        OodAudio(
                            name=name,
                            label=label,
                            bytes=render_upload(spoken, rate, upload, seed_of(name)),
                            description=f"{spoken_as}, saved as {upload.key}",
                            group=voice.group,
                            style=upload.key,
                        )
                    )
    return clips


def default_cache_dir() -> Path:
    return ModelSettings().cache_dir / "ood"


def synthetic_speech(
    out_dir: Path | None = None, voices: Sequence[Voice] = VOICES, uploads: Sequence[AudioUpload] = UPLOADS
) -> list[OodAudio]:
    """The OOD speech set, cached under out_dir/speech-KEY (KEY hashes every generator parameter)."""
    folder = Path(out_dir or default_cache_dir()) / f"speech-{speech_cache_key(voices, uploads)}"
    manifest = folder / "manifest.json"
    if manifest.exists():
        entries = json.loads(manifest.read_text())
        return [OodAudio(bytes=(folder / f"{e['name']}.wav").read_bytes(), **e) for e in entries]
    clips = generate_speech(voices, uploads)
    folder.mkdir(parents=True, exist_ok=True)
    for clip in clips:
        (folder / f"{clip.name}.wav").write_bytes(clip.bytes)
    entries = [{k: v for k, v in asdict(c).items() if k != "bytes"} for c in clips]
    tmp = manifest.with_suffix(".tmp")
    tmp.write_text(json.dumps(entries, indent=1))
    tmp.replace(manifest)  # the manifest is written last: a half-written folder is regenerated
    return clips
