"""Real media bytes made in tests: WAVs in every supported encoding (through the one WAV
writer, models.wav.write_wav), images in every format and mode, and the hand-made bad
files (a decompression bomb, a WAV whose header lies). One place, so tests read as statements."""

import struct
import zlib

import numpy as np
from PIL import Image, ImageDraw

from models.data import encode_image
from models.wav import write_wav


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
    """Float samples in [-1, 1] (frames,) as a WAV file, the same signal on every channel."""
    every_channel = np.repeat(np.asarray(samples)[None, :], channels, axis=0)
    return write_wav(every_channel, rate, bits, encoding, big_endian=big_endian, extensible=extensible)


def sine_wav(seconds: float, rate: int = 8000) -> bytes:
    """A steady 440 Hz tone as 16-bit mono PCM: a 44-byte header, then the samples."""
    t = np.arange(int(seconds * rate)) / rate
    return wav_bytes(0.37 * np.sin(2 * np.pi * 440 * t), rate)


def lying_wav(wav: bytes) -> bytes:
    """A real (little-endian) WAV whose data chunk claims ten times the bytes the file holds."""
    at = wav.index(b"data") + 4
    size = struct.unpack("<I", wav[at : at + 4])[0]
    return wav[:at] + struct.pack("<I", size * 10) + wav[at + 4 :]


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
    return encode_image(rgba)


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A tiny PNG whose header claims width x height 8-bit grey pixels (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
