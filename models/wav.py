"""WAV files: a strict reader (RIFF little-endian and RIFX big-endian, PCM and float)
and the one writer that evaluation and tests use to make real upload bytes.

The reader is written out by hand rather than delegated to a codec library so that
every way a header can lie is caught and reported as a typed error, and nothing is
decoded before the limits (rate, channels, duration) have been checked.
"""

import struct
from dataclasses import dataclass

import numpy as np

from models.media_errors import CorruptMediaError, UnsupportedMediaError

FORMAT_PCM = 0x0001
FORMAT_FLOAT = 0x0003
FORMAT_EXTENSIBLE = 0xFFFE
MAX_CHANNELS = 16


@dataclass(frozen=True)
class WavFormat:
    encoding: str  # "pcm" | "float"
    channels: int
    sample_rate: int
    bits: int
    big_endian: bool


def is_wav(data: bytes) -> bool:
    return len(data) >= 12 and data[:4] in (b"RIFF", b"RIFX") and data[8:12] == b"WAVE"


def _parse_fmt(body: bytes, big_endian: bool) -> WavFormat:
    end = ">" if big_endian else "<"
    if len(body) < 16:
        raise CorruptMediaError("WAV 'fmt ' chunk is shorter than 16 bytes", "invalid_wav")
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack(end + "HHIIHH", body[:16])
    if tag == FORMAT_EXTENSIBLE:
        if len(body) < 40:
            raise CorruptMediaError("WAVE_FORMAT_EXTENSIBLE header is truncated", "invalid_wav")
        tag = struct.unpack(end + "H", body[24:26])[0]  # first two bytes of the sub-format GUID
    if tag == FORMAT_PCM and bits in (8, 16, 24, 32):
        encoding = "pcm"
    elif tag == FORMAT_FLOAT and bits in (32, 64):
        encoding = "float"
    else:
        raise UnsupportedMediaError(
            f"WAV encoding (format tag {tag:#06x}, {bits}-bit) is not supported; "
            "send 8/16/24/32-bit integer PCM or 32/64-bit float",
            "unsupported_wav_encoding",
        )
    if not 1 <= channels <= MAX_CHANNELS:
        raise CorruptMediaError(f"WAV header claims {channels} channels", "invalid_wav")
    if block_align != channels * bits // 8:
        raise CorruptMediaError(
            f"WAV block align {block_align} does not match {channels} x {bits}-bit samples",
            "invalid_wav",
        )
    return WavFormat(encoding, channels, rate, bits, big_endian)


def _find_chunks(data: bytes, big_endian: bool) -> tuple[bytes, memoryview]:
    """Return the fmt chunk body and a view of the data chunk body."""
    end = ">" if big_endian else "<"
    view = memoryview(data)
    fmt_body: bytes | None = None
    pos = 12
    while pos + 8 <= len(data):
        chunk_id = data[pos : pos + 4]
        size = struct.unpack(end + "I", data[pos + 4 : pos + 8])[0]
        start = pos + 8
        if chunk_id == b"data":
            if fmt_body is None:
                raise CorruptMediaError("WAV 'data' chunk comes before 'fmt '", "invalid_wav")
            if start + size > len(data):
                raise CorruptMediaError(
                    f"WAV header says {size} bytes of audio but the file holds "
                    f"{len(data) - start}: the file is truncated or its header lies",
                    "invalid_wav",
                )
            return fmt_body, view[start : start + size]
        if start + size > len(data):
            raise CorruptMediaError(f"WAV chunk {chunk_id!r} runs past the end", "invalid_wav")
        if chunk_id == b"fmt ":
            fmt_body = bytes(data[start : start + size])
        pos = start + size + (size & 1)  # chunks are padded to even sizes
    raise CorruptMediaError("WAV file has no 'data' chunk", "invalid_wav")


def _samples(raw: memoryview, fmt: WavFormat) -> np.ndarray:
    order = ">" if fmt.big_endian else "<"
    width = fmt.bits // 8
    usable = len(raw) - len(raw) % (width * fmt.channels)  # drop a trailing partial frame
    raw = raw[:usable]
    if fmt.encoding == "float":
        out = np.frombuffer(raw, dtype=f"{order}f{width}")
        if not np.all(np.isfinite(out)):
            raise CorruptMediaError("WAV float samples contain NaN or infinity", "invalid_wav")
        peak = float(np.abs(out).max()) if out.size else 0.0
        if peak > 1.0:  # overs, or absurd values near the float limit: the model only needs the shape
            out = out / peak
        return out.astype(np.float32)
    if fmt.bits == 8:  # 8-bit WAV is unsigned
        return (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    if fmt.bits == 24:
        b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        if fmt.big_endian:
            b = b[:, ::-1]
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        return ints.astype(np.float32) / float(1 << 23)
    ints = np.frombuffer(raw, dtype=f"{order}i{width}")
    return (ints.astype(np.float64) / float(1 << (fmt.bits - 1))).astype(np.float32)


def wav_sample_count(data: bytes) -> int:
    """Samples (frames x channels) the file holds, from its header alone; 0 when unreadable."""
    try:
        big_endian = data[:4] == b"RIFX"
        fmt_body, raw = _find_chunks(data, big_endian)
        fmt = _parse_fmt(fmt_body, big_endian)
    except (CorruptMediaError, UnsupportedMediaError, struct.error):
        return 0
    return len(raw) // (fmt.bits // 8)


def read_wav(data: bytes, min_rate: int, max_rate: int, max_seconds: float) -> tuple[np.ndarray, int]:
    """Decode WAV bytes into float32 samples shaped (channels, frames) and the rate."""
    if not is_wav(data):
        raise UnsupportedMediaError("not a WAV file", "unsupported_media_type")
    big_endian = data[:4] == b"RIFX"
    fmt_body, raw = _find_chunks(data, big_endian)
    fmt = _parse_fmt(fmt_body, big_endian)
    if not min_rate <= fmt.sample_rate <= max_rate:
        raise CorruptMediaError(
            f"sample rate {fmt.sample_rate} Hz is outside {min_rate}-{max_rate} Hz",
            "unsupported_sample_rate",
        )
    frames = len(raw) // (fmt.bits // 8 * fmt.channels)
    if frames == 0:
        raise CorruptMediaError("WAV file holds no audio samples", "empty_audio")
    seconds = frames / fmt.sample_rate
    if seconds > max_seconds:
        raise CorruptMediaError(
            f"audio is {seconds:.1f} s long; the limit is {max_seconds:g} s", "audio_too_long"
        )
    samples = _samples(raw, fmt).reshape(-1, fmt.channels).T
    return np.ascontiguousarray(samples), fmt.sample_rate


# The KSDATAFORMAT_SUBTYPE GUID of WAVE_FORMAT_EXTENSIBLE after its leading format tag.
_SUBFORMAT_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


def _chunk(chunk_id: bytes, body: bytes, end: str) -> bytes:
    """One RIFF chunk, padded to an even size as the format requires."""
    return chunk_id + struct.pack(end + "I", len(body)) + body + b"\x00" * (len(body) & 1)


def _encode_samples(interleaved: np.ndarray, bits: int, encoding: str, end: str) -> bytes:
    if encoding == "float":
        return interleaved.astype(f"{end}f{bits // 8}").tobytes()  # not clipped: NaN stays NaN
    if encoding != "pcm" or bits not in (8, 16, 24, 32):
        raise ValueError(f"cannot write {bits}-bit {encoding}")
    if bits == 8:  # 8-bit WAV is unsigned
        return (np.round(np.clip(interleaved, -1, 1) * 127) + 128).astype(np.uint8).tobytes()
    ints = np.round(np.clip(interleaved, -1, 1) * (2 ** (bits - 1) - 1))
    if bits != 24:
        return ints.astype(f"{end}i{bits // 8}").tobytes()
    low3 = ints.astype("<i4").view(np.uint8).reshape(-1, 4)[:, :3]  # two's complement, 3 bytes
    return (low3[:, ::-1] if end == ">" else low3).tobytes()


def write_wav(
    samples: np.ndarray,
    rate: int,
    bits: int = 16,
    encoding: str = "pcm",
    big_endian: bool = False,
    extensible: bool = False,
    software: str | None = None,
) -> bytes:
    """samples (channels, frames) in [-1, 1] -> WAV bytes, laid out the way common tools write
    them: float files carry a `fact` chunk, `extensible` writes WAVE_FORMAT_EXTENSIBLE (as
    24-bit and multichannel files usually are), `software` adds a LIST/INFO chunk naming the
    writer (as browsers and ffmpeg do)."""
    end = ">" if big_endian else "<"
    channels, frames = samples.shape
    body = _encode_samples(np.ascontiguousarray(samples.T).reshape(-1), bits, encoding, end)
    tag = FORMAT_FLOAT if encoding == "float" else FORMAT_PCM
    block = channels * bits // 8
    header = struct.pack(end + "IIHH", rate, rate * block, block, bits)
    if extensible:
        mask = {1: 0x4, 2: 0x3}.get(channels, 0)  # front centre / front left+right / unassigned
        subformat = struct.pack(end + "H", tag) + _SUBFORMAT_GUID_TAIL
        fmt = struct.pack(end + "HH", FORMAT_EXTENSIBLE, channels) + header
        fmt += struct.pack(end + "HHI", 22, bits, mask) + subformat
    else:
        fmt = struct.pack(end + "HH", tag, channels) + header
        if encoding == "float":
            fmt += struct.pack(end + "H", 0)  # non-PCM formats carry an (empty) extension size
    chunks = _chunk(b"fmt ", fmt, end)
    if encoding == "float":
        chunks += _chunk(b"fact", struct.pack(end + "I", frames), end)
    if software is not None:
        info = _chunk(b"ISFT", software.encode() + b"\x00", end)
        chunks += _chunk(b"LIST", b"INFO" + info, end)
    chunks += _chunk(b"data", body, end)
    return (b"RIFX" if big_endian else b"RIFF") + struct.pack(end + "I", 4 + len(chunks)) + b"WAVE" + chunks
