"""Low-resolution digits: thumbnails, smooth upscales and blocky nearest-neighbour
upscales, all dark ink on a light background, made from two sources: MNIST test digits (writers
outside the training set) and digits drawn with the installed TrueType fonts.

Each source digit is framed tightly (a square around its ink with a 12 % margin, as an icon or
a thumbnail frames it), area-averaged down to the low resolution, then saved as it is or
upscaled:

* `reference`: the framed digit at 28x28 (the baseline each condition is compared with);
* `thumb_8x8`: the 8x8 thumbnail itself;
* `smooth_64x64_from_8x8`, `smooth_64x64_from_16x16`: bicubic upscales to 64x64;
* `blocky_112x112_from_8x8`, `blocky_112x112_from_14x14`: nearest-neighbour upscales to 112x112
  (a digit drawn on a coarse pixel grid, or a thumbnail enlarged by an editor).

Deterministic: no randomness at all; MNIST digits are the first `per_digit` of each label.
"""

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from models.data import encode_image, load_mnist
from training.ood.rendered_digits import OodImage, glyph_mask, installed_fonts

IMAGE_CONDITIONS = (
    "reference",
    "thumb_8x8",
    "smooth_64x64_from_8x8",
    "smooth_64x64_from_16x16",
    "blocky_112x112_from_8x8",
    "blocky_112x112_from_14x14",
)
# condition -> (low resolution, saved size, upscale filter)
_LAYOUT: dict[str, tuple[int, int, Image.Resampling]] = {
    "reference": (28, 28, Image.Resampling.NEAREST),
    "thumb_8x8": (8, 8, Image.Resampling.NEAREST),
    "smooth_64x64_from_8x8": (8, 64, Image.Resampling.BICUBIC),
    "smooth_64x64_from_16x16": (16, 64, Image.Resampling.BICUBIC),
    "blocky_112x112_from_8x8": (8, 112, Image.Resampling.NEAREST),
    "blocky_112x112_from_14x14": (14, 112, Image.Resampling.NEAREST),
}


def framed(ink: np.ndarray, margin: float = 0.12) -> np.ndarray:
    """uint8 light-on-dark digit -> a square around its ink with `margin` on every side."""
    ys, xs = np.nonzero(ink > 40)
    crop = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    side = int(max(crop.shape) * (1 + 2 * margin))
    out = np.zeros((side, side), np.uint8)
    top, left = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    out[top : top + crop.shape[0], left : left + crop.shape[1]] = crop
    return out


def low_res_image(ink: np.ndarray, condition: str) -> Image.Image:
    """One condition of a uint8 light-on-dark digit: an 'L' image, dark ink on light."""
    low, size, upscale = _LAYOUT[condition]
    small = Image.fromarray(framed(ink)).resize((low, low), Image.Resampling.BOX)  # area average
    big = small if size == low else small.resize((size, size), upscale)
    return Image.fromarray(255 - np.asarray(big), "L")


def _mnist_sources(data_dir: Path, per_digit: int) -> list[tuple[str, int, np.ndarray]]:
    images, labels = load_mnist(Path(data_dir), train=False)
    picked = sorted(i for d in range(10) for i in np.flatnonzero(labels == d)[:per_digit])
    return [(f"mnist{i:05d}", int(labels[i]), images[i]) for i in picked]


def _font_sources(fonts: Sequence[Path]) -> list[tuple[str, int, np.ndarray]]:
    return [
        (font.stem, digit, np.asarray(glyph_mask(font, digit, 112), np.uint8))
        for font in fonts
        for digit in range(10)
    ]


def low_res_digits(
    data_dir: Path,
    per_digit: int = 30,
    fonts: Sequence[Path] | None = None,
    conditions: Sequence[str] = IMAGE_CONDITIONS,
) -> list[OodImage]:
    """Every source digit under every condition: OodImage with style = condition and
    font = source ("mnist" or "fonts")."""
    sources = {
        "mnist": _mnist_sources(data_dir, per_digit),
        "fonts": _font_sources(fonts if fonts is not None else installed_fonts()),
    }
    images: list[OodImage] = []
    for condition in conditions:
        for source, items in sources.items():
            for name, label, ink in items:
                low, size, _ = _LAYOUT[condition]
                upscaled = f" upscaled to {size}x{size}" if size != low else ""
                what = f"{name} digit {label}: {low}x{low}{upscaled}"
                data = encode_image(low_res_image(ink, condition))
                images.append(OodImage(f"{condition}_{name}_{label}", label, data, what, condition, source))
    return images
