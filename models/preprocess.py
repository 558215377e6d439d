"""Bytes -> model input. The one code path shared by training, indexing and serving.

Images are normalised the way MNIST was made (light digit on dark, cropped, fitted
into a 20x20 box keeping the aspect ratio, centred by centre of mass in 28x28).
Audio is downmixed, resampled to 8 kHz, trimmed of silence and turned into a fixed
size, per-utterance standardised log-mel spectrogram.
"""

import io
import struct
import warnings
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch
import torchaudio
from PIL import Image, ImageSequence, UnidentifiedImageError
from torch.nn import functional as F

from models.encoder_config import AudioParams, EncoderConfig, ImageParams
from models.media_errors import CorruptMediaError, UnsupportedMediaError
from models.modality import Modality
from models.wav import is_wav, read_wav

ACCEPTED = "PNG, JPEG, BMP, GIF, WebP, TIFF images or WAV audio"
_PIL_NAMES = {"png": "PNG", "jpeg": "JPEG", "bmp": "BMP", "gif": "GIF", "webp": "WEBP", "tiff": "TIFF"}
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # pixel statistics of the MNIST training set
_WORK_SIZE = 512  # big photos are shrunk to this before normalising: the digit ends up 20 px


def sniff(data: bytes) -> tuple[Modality, str]:
    """Tell the modality and format from the leading bytes (never from a file name)."""
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image", "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", "webp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image", "tiff"
    if head.startswith(b"BM") and len(data) >= 26:
        return "image", "bmp"
    if is_wav(data):
        return "audio", "wav"
    if not data:
        raise CorruptMediaError("the upload is empty (0 bytes)", "empty_upload")
    raise UnsupportedMediaError(f"unrecognised file type; this service accepts {ACCEPTED}")


# --------------------------------------------------------------------------- images


def decode_image(data: bytes, fmt: str, params: ImageParams) -> Image.Image:
    """Open and fully decode an image, refusing bombs and broken files."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=[_PIL_NAMES[fmt]])
            width, height = opened.size
            if width * height > params.max_pixels:
                raise CorruptMediaError(
                    f"image is {width}x{height} pixels; the limit is {params.max_pixels:,} pixels",
                    "decompression_bomb",
                )
            image = next(iter(ImageSequence.Iterator(opened)))  # first frame of GIF/TIFF
            image.load()
    except CorruptMediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise CorruptMediaError(
            f"image refused as a decompression bomb: {exc}", "decompression_bomb"
        ) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise CorruptMediaError(f"broken {fmt.upper()} image: {exc}", "invalid_image") from exc
    if width == 0 or height == 0:
        raise CorruptMediaError("image has no pixels", "invalid_image")
    return image


def _to_grey(image: Image.Image) -> np.ndarray:
    """Greyscale in [0, 1]; transparency is flattened onto a background that contrasts
    with the strokes (a browser canvas exports dark or light ink on transparent)."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(image, dtype=np.float32)
        span = float(arr.max() - arr.min())
        return (arr - arr.min()) / span if span > 0 else np.zeros_like(arr)
    has_alpha = image.mode in ("LA", "RGBA", "PA") or (image.mode == "P" and "transparency" in image.info)
    image = image.convert("RGBA" if has_alpha else "L")
    if image.size[0] * image.size[1] > _WORK_SIZE**2:
        image.thumbnail((_WORK_SIZE, _WORK_SIZE), Image.Resampling.BOX)
    arr = np.asarray(image, dtype=np.float32) / 255.0
    if not has_alpha:
        return arr
    rgb, alpha = arr[..., :3], arr[..., 3]
    grey = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if alpha.min() > 0.98:
        return grey
    ink_weight = float(alpha.sum())
    stroke_level = float((grey * alpha).sum() / ink_weight) if ink_weight > 0 else 0.0
    background = 1.0 if stroke_level < 0.5 else 0.0
    return alpha * grey + (1.0 - alpha) * background


def _flatten_background(grey: np.ndarray) -> np.ndarray:
    """Subtract uneven lighting (phone photos: ramps, vignettes) with a morphological
    top-hat. Only when the border is visibly uneven: on a uniform background (scans,
    canvases, MNIST) it would hollow out strokes wider than the kernel."""
    h, w = grey.shape
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if min(h, w) < 64 or np.percentile(border, 95) - np.percentile(border, 5) < 0.08:
        return grey
    k = max(3, min(h, w) // 10) | 1  # odd kernel, wider than a pen stroke in a photo
    t = torch.from_numpy(grey)[None, None]
    opened = F.max_pool2d(-F.max_pool2d(-t, k, 1, k // 2), k, 1, k // 2)  # erosion then dilation
    background = F.avg_pool2d(opened, k, 1, k // 2, count_include_pad=False)
    return (t - background).clamp(min=0.0)[0, 0].numpy()


def normalise_digit(grey: np.ndarray, params: ImageParams) -> np.ndarray:
    """Any greyscale digit picture -> MNIST-style 28x28 float32 in [0, 1]."""
    grey = grey.astype(np.float32)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if np.median(border) > 0.5:  # dark ink on light paper: make the ink light
        grey = 1.0 - grey
    grey = _flatten_background(grey)
    ink = np.clip(grey - np.median(grey), 0.0, None)  # remove the paper's tone
    peak = float(np.percentile(ink, 99.9))
    if peak < 0.05:
        raise CorruptMediaError("the image is blank: no digit could be found", "blank_image")
    ink = np.clip(ink / peak, 0.0, 1.0)
    rows = np.flatnonzero((ink > 0.25).any(axis=1))
    cols = np.flatnonzero((ink > 0.25).any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = params.digit_box / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    boxed = np.asarray(
        Image.fromarray(crop, mode="F").resize(
            (new_w, new_h), Image.Resampling.LANCZOS if scale > 1 else Image.Resampling.BOX
        ),
        dtype=np.float32,
    ).clip(0.0, 1.0)
    mass = boxed.sum()
    ys, xs = np.indices(boxed.shape)
    cy, cx = (ys * boxed).sum() / mass, (xs * boxed).sum() / mass
    size = params.size
    top = int(np.clip(round(size / 2 - cy), 0, size - new_h))
    left = int(np.clip(round(size / 2 - cx), 0, size - new_w))
    out = np.zeros((size, size), dtype=np.float32)
    out[top : top + new_h, left : left + new_w] = boxed
    return out


def standardise_digits(digits: torch.Tensor) -> torch.Tensor:
    """Normalised digits in [0, 1] (any shape) -> the encoder's input scale: MNIST's statistics."""
    return (digits - MNIST_MEAN) / MNIST_STD


def image_tensor(grey_28: np.ndarray) -> torch.Tensor:
    """28x28 [0,1] array -> (1, 28, 28) tensor standardised with MNIST's statistics."""
    return standardise_digits(torch.from_numpy(grey_28)).unsqueeze(0)


def digit_from_bytes(data: bytes, fmt: str, params: ImageParams) -> np.ndarray:
    """Image bytes of format `fmt` -> the normalised 28x28 digit in [0, 1] (what the encoder sees)."""
    return normalise_digit(_to_grey(decode_image(data, fmt, params)), params)


def image_bytes_to_tensor(data: bytes, fmt: str, params: ImageParams) -> torch.Tensor:
    return image_tensor(digit_from_bytes(data, fmt, params))


# --------------------------------------------------------------------------- audio


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
    return to_model_rate(wave, rate, params)


def trim_silence(wave: torch.Tensor, params: AudioParams) -> torch.Tensor:
    """Cut leading and trailing frames quieter than the loudest frame by silence_db."""
    if wave.numel() > 0:
        # DC offsets and mains hum (cheap microphones) would read as sound: remove them first.
        wave = torchaudio.functional.highpass_biquad(wave - wave.mean(), params.sample_rate, 80.0)
    if wave.numel() == 0 or float(wave.abs().max()) < params.silence_floor:
        raise CorruptMediaError("the recording is silent: no speech was found", "silent_audio")
    frame, hop = params.sample_rate // 50, params.sample_rate // 100  # 20 ms frames, 10 ms hop
    padded = torch.nn.functional.pad(wave, (0, max(0, frame - wave.numel())))
    rms = padded.unfold(0, frame, hop).pow(2).mean(dim=1).sqrt()
    loud = torch.nonzero(rms >= rms.max() * 10 ** (-params.silence_db / 20)).flatten()
    margin = 3 * hop  # keep 30 ms around the word so onsets are not clipped
    start = max(0, int(loud[0]) * hop - margin)
    end = min(wave.numel(), int(loud[-1]) * hop + frame + margin)
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
    return log_mel(trim_silence(wave, params), params)


def audio_bytes_to_tensor(data: bytes, params: AudioParams) -> torch.Tensor:
    return speech_tensor(wave_at_model_rate(data, params), params)


# --------------------------------------------------------------------------- both


@dataclass(frozen=True)
class PreparedQuery:
    modality: Modality
    format: str
    tensor: torch.Tensor  # (1, 28, 28) for images, (1, n_mels, frames) for audio


def prepare(data: bytes, config: EncoderConfig) -> PreparedQuery:
    """Uploaded bytes -> model input, with typed errors for anything unusable."""
    modality, fmt = sniff(data)
    if modality == "image":
        return PreparedQuery(modality, fmt, image_bytes_to_tensor(data, fmt, config.image))
    return PreparedQuery(modality, fmt, audio_bytes_to_tensor(data, config.audio))
