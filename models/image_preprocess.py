"""Image bytes -> the image encoder's input (part of the one path shared by training,
indexing and serving; models.preprocess dispatches uploads here).

Digits are normalised the way MNIST was made: light digit on dark, cropped, fitted into a
20x20 box keeping the aspect ratio, centred by centre of mass in 28x28.
"""

import io
import struct
import warnings
from typing import Any

import numpy as np
import pillow_heif
from PIL import AvifImagePlugin, Image, ImageSequence, UnidentifiedImageError
from scipy import ndimage

from models.cpu_budget import check_budget
from models.encoder_config import ImageParams
from models.media_errors import CorruptMediaError

PIL_NAMES = {
    **{"png": "PNG", "jpeg": "JPEG", "bmp": "BMP", "gif": "GIF", "webp": "WEBP", "tiff": "TIFF"},
    **{"heif": "HEIF", "avif": "AVIF"},  # HEIF through pillow-heif (libheif), AVIF Pillow's own
}
# One decoder thread each: the CPU budget counts this thread's time, and concurrent uploads
# should not each spread over every core. No thumbnails, depth maps or auxiliary pictures.
pillow_heif.register_heif_opener(decode_threads=1, thumbnails=False, depth_images=False, aux_images=False)
AvifImagePlugin.DEFAULT_MAX_THREADS = 1
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # pixel statistics of the MNIST training set
_WORK_SIZE = 512  # big pictures are shrunk to this before normalising: the digit ends up 20 px
SMALL_PICTURE = 128  # px, short side: under it a picture is a thumbnail or its upscale, not a photo
_DEEP_MODES = ("I;16", "I;16B", "I;16L", "I", "F")  # more than 8 bits per pixel


def decode_image(data: bytes, fmt: str, params: ImageParams) -> Image.Image:
    """Open and fully decode an image, refusing bombs and broken files."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data), formats=[PIL_NAMES[fmt]])
            width, height = opened.size
            if width * height > params.max_pixels:
                raise CorruptMediaError(
                    f"image is {width}x{height} pixels; the limit is {params.max_pixels:,} pixels",
                    "decompression_bomb",
                )
            if fmt == "jpeg" and min(width, height) >= 2 * _WORK_SIZE:
                # decode at 1/2..1/8 scale in the codec itself: a 12-megapixel photo costs
                # what a 1-megapixel one does, and is shrunk to _WORK_SIZE anyway
                opened.draft(opened.mode, (_WORK_SIZE, _WORK_SIZE))
            image = next(iter(ImageSequence.Iterator(opened)))  # first frame of GIF/TIFF
            image.load()
    except CorruptMediaError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise CorruptMediaError(
            f"image refused as a decompression bomb: {exc}", "decompression_bomb"
        ) from exc
    except RuntimeError as exc:  # libheif's: a broken file, or past its own size limits
        bomb = "security limit" in str(exc).lower()
        code = "decompression_bomb" if bomb else "invalid_image"
        raise CorruptMediaError(f"broken {fmt.upper()} image: {exc}".strip(), code) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
        raise CorruptMediaError(f"broken {fmt.upper()} image: {exc}", "invalid_image") from exc
    if width == 0 or height == 0:
        raise CorruptMediaError("image has no pixels", "invalid_image")
    return image


def _shrunk(image: Image.Image) -> Image.Image:
    if image.size[0] * image.size[1] > _WORK_SIZE**2:
        image.thumbnail((_WORK_SIZE, _WORK_SIZE), Image.Resampling.BOX)
    return image


def _deep_to_grey(image: Image.Image) -> np.ndarray:
    """16-bit, 32-bit and float pictures: shrunk as float (one cheap pass over the pixels),
    then stretched to [0, 1]."""
    arr = np.asarray(_shrunk(image.convert("F")), dtype=np.float32)
    if not np.isfinite(arr).all():  # NaN and infinity survive the shrink's averaging
        raise CorruptMediaError("the image holds NaN, infinite or out-of-range pixels", "invalid_image")
    lo, hi = float(arr.min()), float(arr.max())
    if hi <= lo:
        return np.zeros_like(arr)
    scale = max(abs(lo), abs(hi))  # divide first: hi - lo of float pixels can overflow
    return ((arr / scale - lo / scale) / (hi / scale - lo / scale)).clip(0.0, 1.0)


def _to_grey(image: Image.Image) -> np.ndarray:
    """Greyscale in [0, 1], at most _WORK_SIZE^2 pixels; transparency is flattened onto a
    background that contrasts with the strokes (a browser canvas exports dark or light ink
    on transparent)."""
    if image.mode in _DEEP_MODES:
        return _deep_to_grey(image)
    has_alpha = image.mode in ("LA", "RGBA", "PA") or (image.mode == "P" and "transparency" in image.info)
    image = _shrunk(image.convert("RGBA" if has_alpha else "L"))
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


def _native_grid(grey: np.ndarray) -> np.ndarray:
    """A nearest-neighbour upscale (pixel art, a blown-up thumbnail) back to its own grid.

    Such an image is constant on k x k blocks; normalising it as drawn would treat each
    block edge as a stroke. Reduced to one pixel per block it is just a small digit. Only
    exact integer upscales qualify: every run of identical rows and of identical columns is
    a multiple of one k >= 2 (a run can span several blocks where neighbours match).
    """

    def block(lines_differ: np.ndarray, size: int) -> int:
        starts = np.concatenate([[0], np.flatnonzero(lines_differ) + 1, [size]])
        k = int(np.gcd.reduce(np.diff(starts)))
        return k if k >= 2 and size // k >= 4 else 1

    k_rows = block(np.any(grey[1:] != grey[:-1], axis=1), grey.shape[0])
    k_cols = block(np.any(grey[:, 1:] != grey[:, :-1], axis=0), grey.shape[1])
    if k_rows == 1 or k_cols == 1:
        return grey
    return grey[::k_rows, ::k_cols]


def _stroke_width(grey: np.ndarray) -> float:
    """Median length of the ink runs along rows and columns (ink: above the midpoint of
    the picture's range): a pen stroke's width, since most runs cross a stroke."""
    lo, hi = np.percentile(grey, [5, 99.5])
    ink = grey > (lo + hi) / 2
    runs: list[np.ndarray] = []
    for mask in (ink, ink.T):
        edges = np.diff(mask.astype(np.int8), axis=1, prepend=0, append=0)
        starts, ends = np.nonzero(edges == 1)[1], np.nonzero(edges == -1)[1]
        runs.append(ends - starts)
    lengths = np.concatenate(runs)
    return float(np.median(lengths)) if lengths.size else 0.0


def _flatten_background(grey: np.ndarray) -> np.ndarray:
    """Subtract uneven lighting (phone photos: ramps, vignettes) with a morphological
    top-hat. Only when the border is visibly uneven: on a uniform background (scans,
    canvases, MNIST) it is not needed. Its kernel must be wider than the strokes, or the
    opening keeps them as background and the top-hat hollows them out."""
    h, w = grey.shape
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if min(h, w) < 64 or np.percentile(border, 95) - np.percentile(border, 5) < 0.08:
        return grey
    # No pen stroke is a third of the picture wide: a wider estimate means a steep lighting
    # ramp passed for ink, and a kernel that wide would leave the ramp in as the digit.
    # But in a small picture (an upscaled thumbnail: 64 px, 10 px strokes; phone photos are
    # hundreds of px) strokes under the cap are real, want a kernel over it, and a capped one
    # would hollow them: those pictures are left as they are.
    # The filters below cost O(pixels) whatever k is (running min/max/sum).
    stroke, cap = _stroke_width(grey), min(h, w) // 3
    wanted = max(3, min(h, w) // 10, round(2.5 * stroke))
    if wanted > cap >= stroke and min(h, w) < SMALL_PICTURE:
        return grey
    k = min(wanted, cap) | 1
    opened = ndimage.maximum_filter(ndimage.minimum_filter(grey, k, mode="nearest"), k, mode="nearest")
    # the mean over the part of each k x k window inside the picture (no padding counted)
    window_sum = ndimage.uniform_filter(opened.astype(np.float64), k, mode="constant")
    window_area = ndimage.uniform_filter(np.ones((h, w)), k, mode="constant")
    background = (window_sum / window_area).astype(np.float32)
    return np.clip(grey - background, 0.0, None)


def normalise_digit(grey: np.ndarray, params: ImageParams) -> np.ndarray:
    """Any greyscale digit picture -> MNIST-style 28x28 float32 in [0, 1]."""
    grey = _native_grid(grey.astype(np.float32))
    check_budget("grid")
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    if np.median(border) > 0.5:  # dark ink on light paper: make the ink light
        grey = 1.0 - grey
    grey = _flatten_background(grey)
    check_budget("background")
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


def standardise_digits(digits: Any) -> Any:
    """Normalised digits in [0, 1] (any shape, numpy or torch: training standardises its
    augmented batches here) -> the encoder's input scale: MNIST's statistics."""
    return (digits - MNIST_MEAN) / MNIST_STD


def image_tensor(grey_28: np.ndarray) -> np.ndarray:
    """28x28 [0,1] array -> (1, 28, 28) float32 array standardised with MNIST's statistics."""
    return standardise_digits(grey_28.astype(np.float32, copy=False))[None]


def digit_from_bytes(data: bytes, fmt: str, params: ImageParams) -> np.ndarray:
    """Image bytes of format `fmt` -> the normalised 28x28 digit in [0, 1] (what the encoder sees)."""
    image = decode_image(data, fmt, params)
    check_budget("decode")
    grey = _to_grey(image)
    check_budget("greyscale")
    return normalise_digit(grey, params)


def image_bytes_to_tensor(data: bytes, fmt: str, params: ImageParams) -> np.ndarray:
    return image_tensor(digit_from_bytes(data, fmt, params))
