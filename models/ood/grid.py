"""A picture of what the image encoder sees: each upload's normalised 28x28, for eyeballing."""

import math
from collections.abc import Sequence

import numpy as np
from PIL import Image

from models.encoder_config import EncoderConfig
from models.ood.rendered_digits import OodImage
from models.preprocess import digit_from_bytes, sniff


def normalised_grid(
    images: Sequence[OodImage], config: EncoderConfig, columns: int = 10, scale: int = 4
) -> Image.Image:
    """Each image's normalised 28x28, upscaled `scale` times, `columns` to a row on grey."""
    cell = config.image.size * scale
    rows = math.ceil(len(images) / columns)
    grid = Image.new("L", (columns * (cell + 2), rows * (cell + 2)), 128)
    for i, item in enumerate(images):
        _, fmt = sniff(item.bytes)
        norm = digit_from_bytes(item.bytes, fmt, config.image)
        tile = Image.fromarray((norm * 255).astype(np.uint8), "L").resize(
            (cell, cell), Image.Resampling.NEAREST
        )
        grid.paste(tile, ((i % columns) * (cell + 2), (i // columns) * (cell + 2)))
    return grid
