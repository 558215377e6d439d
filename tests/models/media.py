"""Real media bytes generated in tests: WAV in every supported encoding, images in
every supported format and mode. Kept in one place so tests read as statements."""

import io
import struct

import numpy as np
from PIL import Image, ImageDraw


def tone(rate: int, seconds: float = 0.5, freq: float = 440.0, lead: float = 0.2) -> np.ndarray:
    """A short vowel-like tone with silence before and after, float in [-1, 1]."""
    t = np.arange(int(rate * seconds)) / rate
    word = 0.5 * np.sin(2 * np.pi * freq * t) * np.hanning(t.size)
    pad = np.zeros(int(rate * lead))
    return np.concatenate([pad, word, pad])


def wav_bytes(
    samples: np.ndarray,
    rate: int,
    bits: int = 16,
    encoding: str = "pcm",
    channels: int = 1,
    big_endian: bool = False,
    extensible: bool = False,
) -> bytes:
    """Encode float samples in [-1, 1] (frames,) as a WAV file, duplicated to `channels`."""
    end = ">" if big_endian else "<"
    frames = np.repeat(samples[:, None], channels, axis=1).reshape(-1)
    if encoding == "float":
        data = frames.astype(f"{end}f{bits // 8}").tobytes()
        tag = 3
    elif bits == 8:
        data = np.clip(frames * 127 + 128, 0, 255).astype(np.uint8).tobytes()
        tag = 1
    elif bits == 24:
        ints = np.clip(frames * (2**23 - 1), -(2**23), 2**23 - 1).astype(np.int32)
        b = np.stack([ints & 0xFF, (ints >> 8) & 0xFF, (ints >> 16) & 0xFF], axis=1).astype(np.uint8)
        data = (b[:, ::-1] if big_endian else b).tobytes()
        tag = 1
    else:
        data = (
            np.clip(frames * (2 ** (bits - 1) - 1), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
            .astype(f"{end}i{bits // 8}")
            .tobytes()
        )
        tag = 1
    block = channels * bits // 8
    if extensible:
        guid = struct.pack(end + "H", tag) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
        fmt = (
            struct.pack(end + "HHIIHHHHI", 0xFFFE, channels, rate, rate * block, block, bits, 22, bits, 0)
            + guid
        )
    else:
        fmt = struct.pack(end + "HHIIHH", tag, channels, rate, rate * block, block, bits)
    body = (
        b"WAVE"
        + b"fmt "
        + struct.pack(end + "I", len(fmt))
        + fmt
        + b"data"
        + struct.pack(end + "I", len(data))
        + data
    )
    return (b"RIFX" if big_endian else b"RIFF") + struct.pack(end + "I", len(body)) + body


def digit_picture(size: tuple[int, int] = (200, 240), ink: int = 0, paper: int = 255) -> Image.Image:
    """A hand-drawn-looking 7 in grey level `ink` on `paper`."""
    img = Image.new("L", size, paper)
    w, h = size
    ImageDraw.Draw(img).line(
        [(0.25 * w, 0.2 * h), (0.75 * w, 0.2 * h), (0.45 * w, 0.85 * h)], fill=ink, width=max(3, w // 12)
    )
    return img


def canvas_png(grey_digit: np.ndarray, scale: int = 10) -> bytes:
    """What a browser canvas exports: black strokes whose alpha is the ink, on transparent."""
    big = Image.fromarray((grey_digit * 255).astype(np.uint8), mode="L").resize(
        (grey_digit.shape[1] * scale, grey_digit.shape[0] * scale), Image.Resampling.BILINEAR
    )
    rgba = Image.new("RGBA", big.size, (0, 0, 0, 0))
    rgba.putalpha(big)
    buffer = io.BytesIO()
    rgba.save(buffer, format="PNG")
    return buffer.getvalue()


def encode(img: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (a decompression bomb's first bytes)."""
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
