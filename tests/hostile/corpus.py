"""The hostile upload corpus: broken, lying and foreign files, made in code (deterministic, no
binary files in the repository), each with the status and error code the README documents.

README: 400 broken content, 413 over MAX_UPLOAD_BYTES, 415 unsupported type (the message lists
the accepted ones), 422 bad request shape. `/search/image` and `/search/audio` answer 415 to the
other modality. A case names the route it is sent to.
"""

import struct
from dataclasses import dataclass

from tests.media import (
    digit_image,
    flac,
    id3_mp3,
    ogg_vorbis,
    png_bomb,
    png_file,
    raw_wav,
    riff_chunk,
    sine_wav,
    tone,
    wav_bytes,
)

IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "TIFF", "BMP")


@dataclass(frozen=True)
class Case:
    name: str
    data: bytes
    status: int
    code: str
    path: str = "/search"
    filename: str = "upload.bin"


def _flip(data: bytes, start: int, length: int) -> bytes:
    """`length` bytes from `start` inverted: structure damaged, size unchanged."""
    out = bytearray(data)
    for i in range(start, min(start + length, len(out))):
        out[i] ^= 0xFF
    return bytes(out)


def _png_without_zlib() -> bytes:
    """A PNG header (64 x 64 grey) and an IDAT chunk, with a valid CRC, that is not a zlib stream."""
    ihdr = struct.pack(">IIBBBBB", 64, 64, 8, 0, 0, 0, 0)
    return png_file(ihdr, bytes(range(7, 256, 3)) * 4)


def _huge_jpeg() -> bytes:
    """A JPEG whose frame header (SOF0) claims 65,500 x 65,500 pixels."""
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, 65_500, 65_500, 1) + b"\x01\x11\x00"
    return b"\xff\xd8\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + sof


def _huge_gif() -> bytes:
    """A GIF whose screen and image descriptor claim 65,535 x 65,535 pixels."""
    screen = b"GIF89a" + struct.pack("<HHBBB", 65_535, 65_535, 0, 0, 0)
    descriptor = b"\x2c" + struct.pack("<HHHHB", 0, 0, 65_535, 65_535, 0)
    return screen + descriptor + b"\x02\x02\x44\x01\x00\x3b"


def _huge_webp() -> bytes:
    """An extended WebP (VP8X) whose canvas claims 16,384 x 16,384 pixels."""
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (16_383).to_bytes(3, "little") * 2
    return b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x


def _huge_tiff() -> bytes:
    """A little-endian TIFF whose IFD claims 100,000 x 100,000 8-bit grey pixels."""
    entries = [(256, 4, 1, 100_000), (257, 4, 1, 100_000), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1)]
    entries += [(273, 4, 1, 8), (278, 4, 1, 100_000), (279, 4, 1, 10)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries) + bytes(4)
    return b"II*\x00" + struct.pack("<I", 8) + ifd


def _image_cases() -> list[Case]:
    cases = []
    # an inverted GIF image descriptor claims a ~2^16 x 2^16 frame: refused before decoding
    inverted = {fmt: "decompression_bomb" if fmt == "GIF" else "invalid_image" for fmt in IMAGE_FORMATS}
    for fmt in IMAGE_FORMATS:
        good = digit_image(fmt)
        name = f"seven.{fmt.lower()}"
        cases += [
            Case(f"{fmt} truncated to half", good[: len(good) // 2], 400, "invalid_image", filename=name),
            Case(f"{fmt} header only (first 30 bytes)", good[:30], 400, "invalid_image", filename=name),
            Case(f"{fmt} body inverted", _flip(good, 20, len(good)), 400, inverted[fmt], filename=name),
        ]
    cases += [
        Case("PNG claiming 50,000 x 50,000", png_bomb(50_000, 50_000), 400, "decompression_bomb"),
        Case("PNG claiming 2^31-1 x 2^31-1", png_bomb(2**31 - 1, 2**31 - 1), 400, "decompression_bomb"),
        Case("PNG claiming 0 x 0", png_bomb(0, 0), 400, "invalid_image"),
        Case("JPEG claiming 65,500 x 65,500", _huge_jpeg(), 400, "decompression_bomb"),
        Case("GIF claiming 65,535 x 65,535", _huge_gif(), 400, "decompression_bomb"),
        Case("WebP claiming 16,384 x 16,384", _huge_webp(), 400, "decompression_bomb"),
        Case("TIFF claiming 100,000 x 100,000", _huge_tiff(), 400, "decompression_bomb"),
        Case("PNG whose IDAT is not zlib", _png_without_zlib(), 400, "invalid_image"),
        Case(
            "image sent to /search/audio", digit_image("PNG"), 415, "unsupported_media_type", "/search/audio"
        ),
        Case(
            "JPEG sent to /search/audio", digit_image("JPEG"), 415, "unsupported_media_type", "/search/audio"
        ),
    ]
    return cases


def _wav_cases() -> list[Case]:
    good = raw_wav()
    name = "seven.wav"
    return [
        Case("WAV truncated to half", good[: len(good) // 2], 400, "invalid_wav", filename=name),
        Case("WAV header only (first 36 bytes)", good[:36], 400, "invalid_wav", filename=name),
        Case("WAV fmt chunk cut short", good[:30], 400, "invalid_wav", filename=name),
        Case("WAV claiming 2^31 samples (8-bit)", raw_wav(bits=8, declared_data=2**31), 400, "invalid_wav"),
        Case("WAV claiming 2^32-1 data bytes", raw_wav(declared_data=2**32 - 1), 400, "invalid_wav"),
        Case("WAV with 0 channels", raw_wav(channels=0, block_align=2), 400, "invalid_wav"),
        Case("WAV with 65,535 channels", raw_wav(channels=65_535), 400, "invalid_wav"),
        Case("WAV at 0 Hz", raw_wav(rate=0), 400, "unsupported_sample_rate"),
        Case("WAV at 2^32-1 Hz", raw_wav(rate=2**32 - 1), 400, "unsupported_sample_rate"),
        Case("WAV with 0-bit samples", raw_wav(bits=0, block_align=0), 415, "unsupported_wav_encoding"),
        Case("WAV with 12-bit samples", raw_wav(bits=12, block_align=2), 415, "unsupported_wav_encoding"),
        Case("MP3 inside a WAV (tag 0x55)", raw_wav(tag=0x55), 415, "unsupported_wav_encoding"),
        Case(
            "ADPCM WAV (tag 0x11)",
            raw_wav(tag=0x11, bits=4, block_align=256),
            415,
            "unsupported_wav_encoding",
        ),
        Case("WAV block align that lies", raw_wav(block_align=7), 400, "invalid_wav"),
        Case("WAV with no samples", raw_wav(samples=b""), 400, "empty_audio"),
        Case("WAV of silence", raw_wav(samples=bytes(8000)), 400, "silent_audio"),
        Case("WAV of 11 s", sine_wav(11.0), 400, "audio_too_long"),
        Case(
            "float WAV holding NaN",
            wav_bytes(tone(8000) * float("nan"), 8000, 32, "float"),
            400,
            "invalid_wav",
        ),
        Case(
            "WAV with data before fmt",
            b"RIFF\x00\x00\x00\x00WAVE" + riff_chunk(b"data", bytes(100)) + good[12:36],
            400,
            "invalid_wav",
        ),
        Case(
            "WAV of 10,000 empty chunks and no data",
            good[:36] + riff_chunk(b"junk", b"") * 10_000,
            400,
            "invalid_wav",
        ),
        Case("WAV sent to /search/image", good, 415, "unsupported_media_type", "/search/image"),
        Case(
            "RIFF that is neither WAVE nor WEBP",
            b"RIFF\x04\x00\x00\x00AVI LIST" + bytes(64),
            415,
            "unsupported_media_type",
        ),
    ]


def _foreign_cases() -> list[Case]:
    """Files of types the service does not read: 415, and the message names the accepted types."""
    unsupported = "unsupported_media_type"
    return [
        Case("0 bytes", b"", 400, "empty_upload", filename="empty.png"),
        Case(
            "text file named .png",
            b"hello, I am not a picture\n" * 20,
            415,
            unsupported,
            filename="seven.png",
        ),
        Case("text file named .wav", b"RIFF? no.\n" * 20, 415, unsupported, filename="seven.wav"),
        Case("SVG image", b'<svg xmlns="http://www.w3.org/2000/svg"><text>7</text></svg>', 415, unsupported),
        Case("PDF", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", 415, unsupported),
        Case("ZIP archive", b"PK\x03\x04" + bytes(26) + b"PK\x05\x06" + bytes(18), 415, unsupported),
        Case("AIFF", b"FORM\x00\x00\x00\x2eAIFFCOMM" + bytes(26), 415, unsupported, filename="seven.aiff"),
        Case("MP3 sent to /search/image", id3_mp3(), 415, unsupported, "/search/image"),
        Case("ADTS AAC (raw, no MP4 box)", b"\xff\xf1\x50\x80\x02\x1f\xfc" + bytes(64), 415, unsupported),
        Case("250 kB of zeros", bytes(250_000), 415, unsupported),
    ]


def _compressed_cases() -> list[Case]:
    """Compressed formats the service reads (FLAC, Ogg, WebM, MP3, MP4/M4A, HEIC, AVIF) that hold
    nothing usable: 400 with the reason, never 415 (tests/models/test_compressed_media.py
    attacks them with real encoded files)."""
    ftyp = struct.pack(">I", 24) + b"ftyp"
    ebml = b"\x1a\x45\xdf\xa3\x9fB\x86\x81\x01B\xf7\x81\x01B\xf2\x81\x04B\xf3\x81\x08B\x82\x84webm"
    return [
        Case("MP3 with an ID3 tag, empty frames", id3_mp3(), 400, "silent_audio", filename="seven.mp3"),
        Case("MP3 frames only, empty", id3_mp3()[22:], 400, "silent_audio", filename="seven.mp3"),
        Case("MP3 sent to /search/audio", id3_mp3(), 400, "silent_audio", "/search/audio"),
        Case("Ogg Vorbis header page only", ogg_vorbis(), 400, "invalid_audio", filename="seven.ogg"),
        Case("FLAC STREAMINFO, no frames", flac(), 400, "empty_audio", filename="seven.flac"),
        Case("M4A ftyp box only", ftyp + b"M4A \x00\x00\x02\x00M4A isom", 400, "invalid_audio"),
        Case("WebM EBML header only", ebml, 400, "invalid_audio", filename="seven.webm"),
        Case("HEIC ftyp box only", ftyp + b"heic\x00\x00\x00\x00mif1heic", 400, "invalid_image"),
        Case("AVIF ftyp box only", ftyp + b"avif\x00\x00\x00\x00avifmif1", 400, "invalid_image"),
        Case(
            "HEIC sent to /search/audio",
            ftyp + b"heic\x00\x00\x00\x00mif1heic",
            415,
            "unsupported_media_type",
            "/search/audio",
        ),
    ]


def _polyglot_cases() -> list[Case]:
    """Files that are two things at once: the leading bytes decide, never the name or the tail."""
    png, wav = digit_image("PNG"), raw_wav()
    unsupported = "unsupported_media_type"
    return [
        Case("PNG + appended WAV, to /search/audio", png + wav, 415, unsupported, "/search/audio", "x.wav"),
        Case("WAV + appended PNG, to /search/image", wav + png, 415, unsupported, "/search/image", "x.png"),
        Case("WAV whose data chunk is a PNG", raw_wav(samples=png), 400, "audio_too_short"),
        Case("PDF wrapping a PNG", b"%PDF-1.4\n" + png, 415, unsupported, filename="x.png"),
        Case("HTML wrapping a PNG", b"<html><img src=x onerror=alert(1)>" + png, 415, unsupported),
        Case("BMP magic over a WAV", b"BM" + wav[2:], 400, "invalid_image"),
        Case("GIF magic over a PNG", b"GIF89a" + png[6:], 400, "invalid_image"),
        Case(
            "PNG signature over a JPEG", b"\x89PNG\r\n\x1a\n" + digit_image("JPEG")[8:], 400, "invalid_image"
        ),
    ]


def corpus() -> list[Case]:
    """Every upload case, in a fixed order."""
    return _image_cases() + _wav_cases() + _foreign_cases() + _compressed_cases() + _polyglot_cases()
