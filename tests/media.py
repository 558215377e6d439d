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


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk with its length and a correct CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_file(header: bytes, data: bytes) -> bytes:
    """A PNG of one IHDR and one IDAT chunk (each with a correct CRC), whatever they hold."""
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data) + png_chunk(b"IEND", b"")
    )


def png_bomb(width: int = 50_000, height: int = 50_000) -> bytes:
    """A tiny PNG whose header claims width x height 8-bit grey pixels (a decompression bomb)."""
    return png_file(struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0), zlib.compress(b"\x00" * 1024))


def digit_image(fmt: str, size: tuple[int, int] = (60, 72)) -> bytes:
    """The drawn 7 saved as Pillow format `fmt` (PNG, JPEG, GIF, WEBP, TIFF, BMP): a valid upload."""
    return encode_image(digit_picture(size), fmt)


def riff_chunk(chunk_id: bytes, body: bytes, declared: int | None = None) -> bytes:
    """One little-endian RIFF chunk whose size field says `declared` (default: the truth)."""
    size = len(body) if declared is None else declared
    return chunk_id + struct.pack("<I", size) + body + b"\x00" * (len(body) & 1)


def raw_wav(
    channels: int = 1,
    rate: int = 8000,
    bits: int = 16,
    tag: int = 1,
    samples: bytes | None = None,
    declared_data: int | None = None,
    block_align: int | None = None,
) -> bytes:
    """A RIFF/WAVE file written field by field, so any header field can lie (0 channels, 0 Hz,
    a data chunk claiming 2^31 samples). Default samples: 0.7 s of the tone as 16-bit PCM."""
    if samples is None:
        samples = (tone(8000, 0.3) * 20000).astype("<i2").tobytes()
    align = channels * bits // 8 if block_align is None else block_align
    fmt = struct.pack("<HHIIHH", tag, channels, rate, (rate * align) & 0xFFFFFFFF, align & 0xFFFF, bits)
    body = b"WAVE" + riff_chunk(b"fmt ", fmt) + riff_chunk(b"data", samples, declared_data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def id3_mp3() -> bytes:
    """The start of an MP3 file as encoders write it: an ID3v2 tag, then MPEG-1 Layer III frames."""
    tag = b"ID3\x04\x00\x00" + bytes([0, 0, 0, 10]) + b"TIT2\x00\x00\x00\x02\x00\x00\x037"
    frame = b"\xff\xfb\x90\x64" + bytes(413)  # 128 kbit/s, 44.1 kHz frame header + an empty frame
    return tag + frame * 4


def ogg_vorbis() -> bytes:
    """The first page of an Ogg Vorbis stream (capture pattern, identification header)."""
    ident = b"\x01vorbis" + struct.pack("<IBIiiiBB", 0, 1, 8000, 0, 64000, 0, 0xB8, 1)
    header = b"OggS\x00\x02" + bytes(8) + struct.pack("<III", 1, 0, 0) + bytes([1, len(ident)])
    return header + ident


def flac() -> bytes:
    """A FLAC stream marker and its STREAMINFO block (8 kHz mono 16-bit), no frames."""
    info = (
        struct.pack(">HH", 4096, 4096) + bytes(6) + struct.pack(">Q", (8000 << 44) | (15 << 36)) + bytes(16)
    )
    return b"fLaC" + bytes([0x80, 0, 0, len(info)]) + info
