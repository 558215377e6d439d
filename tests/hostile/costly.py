"""Uploads that are small to send and costly to handle, made in code (deterministic, no binary
files in the repository), and unevenly lit photos of real digits that must still be found.

Each case says what a correct service answers: a 200 (`label` set: the photo's digit must be
the top prediction) or a 4xx with its error code. None may take the service more than a
bounded time, whatever its content.
"""

import io
import struct
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

from models.data import encode_image
from models.wav import write_wav
from tests.media import png_file

OK = 200


@dataclass(frozen=True)
class Costly:
    name: str
    data: bytes
    status: int | None  # the status a correct service answers; None: a 200 or any 4xx will do
    code: str | None = None  # the error code that goes with a 4xx status
    label: int | None = None  # for photos of digits: the digit they show (top prediction)


def _gradient(width: int, height: int) -> np.ndarray:
    """A smooth left-to-right ramp in [0, 1]: the worst case for background flattening."""
    return np.broadcast_to(np.linspace(0.0, 1.0, width, dtype=np.float64), (height, width)).copy()


def _save(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def gradient_16bit_png(width: int, height: int) -> bytes:
    return _save(Image.fromarray((_gradient(width, height) * 65535).astype(np.uint16)))


def gradient_rgb_16bit_png(width: int, height: int) -> bytes:
    """A 16-bit-per-channel RGB PNG (PNG colour type 2, bit depth 16), written by hand."""
    ramp = (_gradient(width, height) * 65535).astype(">u2")
    rows = np.repeat(ramp[:, :, None], 3, axis=2).reshape(height, width * 3).view(np.uint8)
    sub = rows.copy()  # PNG's "Sub" filter: each byte minus the same byte of the pixel before
    sub[:, 6:] = rows[:, 6:] - rows[:, :-6]
    raw = np.concatenate([np.ones((height, 1), np.uint8), sub], axis=1).tobytes()

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return png_file(header, zlib.compress(raw, 9))


def gradient_float_tiff(width: int, height: int) -> bytes:
    return _save(
        Image.fromarray(_gradient(width, height).astype(np.float32), mode="F"),
        "TIFF",
        compression="tiff_deflate",
    )


def gradient_int32_tiff(width: int, height: int) -> bytes:
    return _save(
        Image.fromarray((_gradient(width, height) * 2**30).astype(np.int32), mode="I"),
        "TIFF",
        compression="tiff_deflate",
    )


def stroke_on_gradient(size: int) -> bytes:
    """A dark vertical stroke (a "1") on an unevenly lit page: 8-bit grey, a few kB as PNG."""
    page = 0.35 + 0.6 * _gradient(size, size)
    page[size // 5 : 4 * size // 5, size // 2 - size // 40 : size // 2 + size // 40] = 0.05
    return _save(Image.fromarray((page * 255).astype(np.uint8)))


def gradient_with_block(size: int) -> bytes:
    """A gradient with a filled square: its "strokes" are as wide as the image."""
    page = _gradient(size, size)
    page[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 0.0
    return _save(Image.fromarray((page * 255).astype(np.uint8)))


def bilevel_png(width: int, height: int) -> bytes:
    """A 1-bit PNG of a few kB that decodes to width x height pixels (a ring, so it is no blank)."""
    ys, xs = np.ogrid[:height, :width]
    radius = np.hypot(ys - height / 2, xs - width / 2)
    ring = np.abs(radius - min(width, height) / 3) < min(width, height) / 40
    return _save(Image.fromarray(~ring))


def many_frame_gif(frames: int, size: int = 64) -> bytes:
    first = Image.fromarray((_gradient(size, size) * 255).astype(np.uint8)).convert("P")
    rest = [first.point(lambda v, i=i: (v + i) % 256) for i in range(1, frames)]
    return _save(first, "GIF", save_all=True, append_images=rest, duration=10)


def spoken_word(rate: int, seconds: float = 0.6) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    voiced = np.sin(2 * np.pi * 180 * t) + 0.5 * np.sin(2 * np.pi * 900 * t)
    return (0.5 * voiced * np.hanning(t.size)).astype(np.float64)


def extreme_float_wav(peak: float) -> bytes:
    """A float WAV whose samples reach `peak` (3e38 is near float32's largest finite value)."""
    return write_wav(spoken_word(8000)[None, :] * peak, 8000, 32, "float")


def float_wav(rate: int, seconds: float, channels: int = 1, bits: int = 32) -> bytes:
    word = spoken_word(rate)
    take = np.zeros(int(rate * seconds))
    start = (take.size - word.size) // 2
    take[start : start + word.size] = word
    return write_wav(np.repeat(take[None, :], channels, axis=0), rate, bits, "float")


def lit_photo(digit: np.ndarray, size: tuple[int, int], fmt: str, seed: int) -> bytes:
    """An MNIST digit written dark on paper, photographed under uneven light: a lighting ramp
    and a vignette, sensor noise, the digit a third of the frame, saved as a phone would."""
    width, height = size
    rng = np.random.default_rng(seed)
    box = min(width, height) // 3
    ink = np.asarray(Image.fromarray((digit * 255).astype(np.uint8)).resize((box, box)), np.float64) / 255
    page = np.zeros((height, width))
    top, left = (height - box) // 2, (width - box) // 2
    page[top : top + box, left : left + box] = ink
    ys, xs = np.ogrid[:height, :width]
    light = 0.55 + 0.35 * xs / width + 0.1 * ys / height
    vignette = 1 - 0.35 * (np.hypot(ys / height - 0.5, xs / width - 0.5) / 0.7) ** 2
    grey = light * vignette * (1 - 0.8 * page) + rng.normal(0, 0.02, page.shape)
    rgb = np.stack([grey * 0.98, grey, grey * 0.93], axis=-1)
    image = Image.fromarray((np.clip(rgb, 0, 1) * 255).astype(np.uint8), mode="RGB")
    return encode_image(image, fmt) if fmt != "JPEG" else _save(image, "JPEG", quality=88)


def costly_corpus(digits: list[np.ndarray] | None = None, labels: list[int] | None = None) -> list[Costly]:
    """The corpus; with MNIST `digits` (28x28 in [0, 1]) and their `labels`, photos of them too."""
    cases = [
        Costly("stroke-on-gradient-1024-png", stroke_on_gradient(1024), OK, label=1),
        Costly("stroke-on-gradient-3000-png", stroke_on_gradient(3000), OK, label=1),
        Costly("gradient-16bit-1000-png", gradient_16bit_png(1000, 1000), None),
        Costly("gradient-16bit-4000-png", gradient_16bit_png(4000, 4000), None),
        Costly("gradient-16bit-6000-png", gradient_16bit_png(6000, 6000), None),
        Costly("gradient-rgb-16bit-6000-png", gradient_rgb_16bit_png(6000, 6000), None),
        Costly("gradient-float-2000-tiff", gradient_float_tiff(2000, 2000), None),
        Costly("gradient-int32-2000-tiff", gradient_int32_tiff(2000, 2000), None),
        Costly("gradient-with-block-2000-png", gradient_with_block(2000), None),
        Costly("gradient-with-block-6000-png", gradient_with_block(6000), None),
        Costly("bilevel-6000x6000-png", bilevel_png(6000, 6000), None),
        Costly("gif-2000-frames", many_frame_gif(2000), None),
        Costly("float-wav-peak-3e38", extreme_float_wav(3e38), OK),
        Costly(
            "float-wav-peak-1e30-64bit", write_wav(spoken_word(8000)[None, :] * 1e30, 8000, 64, "float"), OK
        ),
        Costly("float-wav-denormal", extreme_float_wav(1e-40), 400, "silent_audio"),
        Costly("float-wav-192khz-9.9s", float_wav(192_000, 9.9), OK),
        Costly("float-wav-192khz-stereo-6s", float_wav(192_000, 6.0, channels=2), OK),
        Costly("float64-wav-96khz-16ch-0.8s", float_wav(96_000, 0.8, channels=16, bits=64), OK),
    ]
    for i, (digit, label) in enumerate(zip(digits or [], labels or [], strict=True)):
        size, fmt = [((4000, 3000), "JPEG"), ((1024, 1024), "PNG"), ((2000, 1500), "JPEG")][i % 3]
        photo = lit_photo(digit, size, fmt, seed=i)
        cases.append(Costly(f"lit-photo-{label}-{size[0]}x{size[1]}-{fmt.lower()}", photo, OK, label=label))
    return cases
