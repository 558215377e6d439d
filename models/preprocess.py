"""Bytes -> model input: tell the modality from the bytes (models.media_types) and hand them to
models.image_preprocess or models.audio_preprocess. Those modules are the one code path
shared by training, indexing and serving.
"""

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image

from models.audio_preprocess import audio_bytes_to_tensor
from models.compressed_audio import header_sample_estimate
from models.encoder_config import AudioParams, EncoderConfig
from models.image_preprocess import PIL_NAMES, image_bytes_to_tensor
from models.media_types import ACCEPTED, sniff
from models.modality import Modality
from models.wav import wav_sample_count

__all__ = ["ACCEPTED", "PreparedQuery", "decoded_size", "prepare", "sniff"]


def decoded_size(data: bytes, modality: Modality, fmt: str) -> int:
    """Pixels or samples the upload will decode to, read from its header only (cheap): what
    its preprocessing will cost. 0 when the header cannot be read (decoding will say why)."""
    if modality == "audio":
        if fmt == "wav":
            return wav_sample_count(data)
        return header_sample_estimate(data, fmt, AudioParams.max_seconds)
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
    return PreparedQuery(modality, fmt, audio_bytes_to_tensor(data, config.audio, fmt))
