"""Bytes -> model input: tell the modality from the bytes and hand them to
models.image_preprocess or models.audio_preprocess. Those modules are the one code path
shared by training, indexing and serving.
"""

from dataclasses import dataclass

import torch

from models.audio_preprocess import audio_bytes_to_tensor
from models.encoder_config import EncoderConfig
from models.image_preprocess import image_bytes_to_tensor
from models.media_errors import CorruptMediaError, UnsupportedMediaError
from models.modality import Modality
from models.wav import is_wav

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
