"""Pictures of what the encoders see: each upload's normalised 28x28 or its log-mel, for eyeballing."""

import io
import math
from collections.abc import Sequence

import numpy as np
from PIL import Image

from models.audio_preprocess import audio_bytes_to_tensor
from models.encoder_config import EncoderConfig
from models.image_preprocess import digit_from_bytes
from models.preprocess import sniff
from training.ood.rendered_digits import OodImage
from training.ood.speech import OodAudio


def _tile(values: np.ndarray, scale: int) -> Image.Image:
    """A [0, 1] array as a grey tile, each value a scale x scale block."""
    tile = Image.fromarray((values.clip(0, 1) * 255).astype(np.uint8), "L")
    return tile.resize((tile.width * scale, tile.height * scale), Image.Resampling.NEAREST)


def _paste_all(tiles: Sequence[Image.Image], columns: int) -> Image.Image:
    """Tiles of one size, `columns` to a row, 2 px of grey between them."""
    w, h = tiles[0].size
    rows = math.ceil(len(tiles) / columns)
    grid = Image.new("L", (columns * (w + 2), rows * (h + 2)), 128)
    for i, tile in enumerate(tiles):
        grid.paste(tile, ((i % columns) * (w + 2), (i // columns) * (h + 2)))
    return grid


def normalised_grid(
    images: Sequence[OodImage], config: EncoderConfig, columns: int = 10, scale: int = 4
) -> Image.Image:
    """Each image's normalised 28x28, upscaled `scale` times, `columns` to a row on grey."""
    return _paste_all(
        [_tile(digit_from_bytes(item.bytes, sniff(item.bytes)[1], config.image), scale) for item in images],
        columns,
    )


def upload_and_normalised_grid(
    images: Sequence[OodImage], config: EncoderConfig, columns: int = 10, scale: int = 3
) -> Image.Image:
    """Pairs of rows: the uploads (shown at 28*scale pixels, nearest neighbour, so a thumbnail's
    pixels stay visible), then the 28x28 the image encoder sees for each."""
    cell = config.image.size * scale
    tiles: list[Image.Image] = []
    for start in range(0, len(images), columns):
        row = images[start : start + columns]
        for item in row:
            upload = Image.open(io.BytesIO(item.bytes)).convert("L")
            tiles.append(upload.resize((cell, cell), Image.Resampling.NEAREST))
        tiles += [Image.new("L", (cell, cell), 128)] * (columns - len(row))
        for item in row:
            tiles.append(_tile(digit_from_bytes(item.bytes, sniff(item.bytes)[1], config.image), scale))
        tiles += [Image.new("L", (cell, cell), 128)] * (columns - len(row))
    return _paste_all(tiles, columns)


def log_mel_grid(
    clips: Sequence[OodAudio], config: EncoderConfig, columns: int = 4, scale: int = 3
) -> Image.Image:
    """Each clip's log-mel as the audio encoder sees it (low frequencies at the bottom)."""
    tiles = []
    for clip in clips:
        spec = audio_bytes_to_tensor(clip.bytes, config.audio)[0][::-1]
        tiles.append(_tile((spec - spec.min()) / max(float(np.ptp(spec)), 1e-6), scale))
    return _paste_all(tiles, columns)
