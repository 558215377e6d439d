"""Bytes -> model input: tell the modality from the bytes and hand them to
models.image_preprocess or models.audio_preprocess. Those modules are the one code path
shared by training, indexing and serving.
"""

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image

from models.audio_preprocess import audio_bytes_to_tensor
from models.encoder_config import EncoderConfig
from models.image_preprocess import PIL_NAMES, image_bytes_to_tensor
from models.media_errors import CorruptMediaError, UnsupportedMediaError
from models.modality import Modality
from models.wav import is_wav, wav_sample_count

ACCEPTED = "PNG, JPEG, BMP, GIF, WebP, TIFF images or WAV audio"


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


def decoded_size(data: bytes, modality: Modality, fmt: str) -> int:
    """Pixels or samples the upload will decode to, read from its header only (cheap): what
    its preprocessing will cost. 0 when the header cannot be read (decoding will say why)."""
    if modality == "audio":
        return wav_sample_count(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a bomb's warning: decoding refuses it, with its code
            with Image.open(io.BytesIO(data), formats=[PIL_NAMES[fmt]]) as image:
                width, height = image.size
    except Exception:  # noqa: BLE001 - a broken header is decoding's to report, with its type
        return 0
    return width * height


@dataclass(frozen=True)
class PreparedQuery:
    modality: Modality
    format: str
    tensor: np.ndarray  # float32 (1, 28, 28) for images, (1, n_mels, frames) for audio


def prepare(data: bytes, config: EncoderConfig) -> PreparedQuery:
    """Uploaded bytes -> model input, with typed errors for anything unusable."""
    modality, fmt = sniff(data)
    if modality == "image":
        return PreparedQuery(modality, fmt, image_bytes_to_tensor(data, fmt, config.image))
    return PreparedQuery(modality, fmt, audio_bytes_to_tensor(data, config.audio))
