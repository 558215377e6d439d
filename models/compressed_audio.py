"""Compressed audio (FLAC, Ogg Vorbis/Opus, WebM/Matroska Opus, MP3, MP4/M4A AAC) -> samples,
through FFmpeg's decoders (PyAV, whose wheels bundle FFmpeg).

WAV keeps its own strict reader (models.wav). Everything here is bounded before and while it
decodes, whatever the file claims:
* the demuxer is the one the bytes' magic named (FFmpeg never guesses another format);
* only the codecs listed in CODECS are decoded, probing included (no video, no exotic codecs);
* rate and channel count are checked from the header, then on every decoded frame;
* decoding stops as soon as it passes max_seconds (+0.1 s of codec padding): a 1-hour file
  costs 10 s of decoding;
* one decoder thread, so the CPU budget (thread time) sees all of the work, checked per packet;
* each frame is downmixed as it arrives, so memory is 10 s of mono, not of 16 channels.
"""

import io
from dataclasses import dataclass

import av
import numpy as np

from models.cpu_budget import check_budget
from models.media_errors import CorruptMediaError, MediaError, UnsupportedMediaError
from models.wav import MAX_CHANNELS

# our format name -> FFmpeg's demuxer, and the name people know it by
DEMUXERS = {"flac": "flac", "ogg": "ogg", "webm": "matroska", "mp3": "mp3", "mp4": "mp4"}
NAMES = {"flac": "FLAC", "ogg": "Ogg", "webm": "WebM", "mp3": "MP3", "mp4": "MP4/M4A"}
# FFmpeg decoder names we accept (mp3float is FFmpeg's default MP3 decoder)
CODECS = frozenset({"flac", "vorbis", "opus", "libopus", "mp3", "mp3float", "aac"})
MAX_STREAMS = 8  # tracks a file may hold (a phone's video: picture, sound, metadata)
# containers whose header states the exact length: a shorter decode means a truncated file
EXACT_LENGTH = frozenset({"flac", "mp4"})


@dataclass(frozen=True)
class StreamInfo:
    codec: str
    sample_rate: int
    channels: int
    declared_s: float | None  # the stream's length as its header states it, when it does


def is_mp3_frame(head: bytes) -> bool:
    """An MPEG audio frame header (layer I-III; ADTS, layer 0, is not MP3)."""
    if len(head) < 4 or head[0] != 0xFF or head[1] & 0xE0 != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
    return version != 1 and layer != 0 and bitrate != 15 and rate != 3


def sniff_audio(data: bytes) -> str | None:
    """The compressed audio container the leading bytes name (ISO BMFF is sniffed by brand in
    models.media_types), or None."""
    if data.startswith(b"fLaC"):
        return "flac"
    if data.startswith(b"OggS"):
        return "ogg"
    if data.startswith(b"\x1a\x45\xdf\xa3"):  # EBML: WebM and Matroska
        return "webm"
    if data.startswith(b"ID3") or is_mp3_frame(data[:4]):
        return "mp3"
    return None


def _broken(fmt: str, exc: Exception) -> CorruptMediaError:
    reason = exc.strerror if isinstance(exc, av.FFmpegError) and exc.strerror else str(exc)
    return CorruptMediaError(f"broken {NAMES[fmt]} audio: {reason} (truncated or damaged?)", "invalid_audio")


def _open(data: bytes, fmt: str) -> av.container.InputContainer:
    try:
        # the whitelists hold FFmpeg to that demuxer, and its stream probing to our decoders
        # (an MP4's video track is never decoded, not even to read its parameters); probing
        # opens a decoder per stream, so a file may hold only a few
        options = {
            "format_whitelist": DEMUXERS[fmt],
            "codec_whitelist": ",".join(sorted(CODECS)),
            "max_streams": str(MAX_STREAMS + 1),  # one more, to tell "too many" (FFmpeg drops the rest)
        }
        return av.open(io.BytesIO(data), mode="r", format=DEMUXERS[fmt], options=options)
    except (av.FFmpegError, ValueError, OSError, EOFError) as exc:
        raise _broken(fmt, exc) from exc


def _stream_info(container: av.container.InputContainer, fmt: str) -> tuple[av.AudioStream, StreamInfo]:
    if len(container.streams) > MAX_STREAMS:
        raise CorruptMediaError(
            f"the {NAMES[fmt]} file holds more than {MAX_STREAMS} tracks", "invalid_audio"
        )
    if not container.streams.audio:
        raise CorruptMediaError(f"the {NAMES[fmt]} file holds no audio track", "no_audio_stream")
    stream = container.streams.audio[0]
    ctx = stream.codec_context
    if ctx is None or ctx.layout is None:  # FFmpeg knows no decoder for it, or read no parameters
        raise CorruptMediaError(f"the {NAMES[fmt]} file's audio track cannot be read", "invalid_audio")
    declared = None
    if stream.duration is not None and stream.time_base is not None and fmt in EXACT_LENGTH:
        declared = float(stream.duration * stream.time_base)
    return stream, StreamInfo(ctx.name, ctx.sample_rate or 0, ctx.layout.nb_channels, declared)


def header_sample_estimate(data: bytes, fmt: str, max_seconds: float) -> int:
    """Samples (frames x channels) decoding can produce at most, from the header alone: its rate
    and channels for max_seconds, where decoding stops. Not the length the container states: that
    can lie low (an Ogg end granule, a FLAC total), and the lane must hold what decoding may cost.
    0 when the header cannot be read (decoding will say why)."""
    try:
        with _open(data, fmt) as container:
            _, info = _stream_info(container, fmt)
    except Exception:  # noqa: BLE001 - a broken header is decoding's to report, with its type
        return 0
    return round(max_seconds * info.sample_rate * info.channels)


def _check_header(info: StreamInfo, fmt: str, min_rate: int, max_rate: int) -> None:
    if info.codec not in CODECS:
        raise UnsupportedMediaError(
            f"{NAMES[fmt]} audio coded as {info.codec!r} is not supported; send FLAC, Vorbis, "
            "Opus, MP3 or AAC audio",
            "unsupported_audio_codec",
        )
    if not min_rate <= info.sample_rate <= max_rate:
        raise CorruptMediaError(
            f"sample rate {info.sample_rate} Hz is outside {min_rate}-{max_rate} Hz",
            "unsupported_sample_rate",
        )
    if not 1 <= info.channels <= MAX_CHANNELS:
        raise CorruptMediaError(
            f"the audio claims {info.channels} channels; at most {MAX_CHANNELS} are read", "invalid_audio"
        )


def _mono(frame: av.AudioFrame, info: StreamInfo) -> np.ndarray:
    """One decoded frame -> float32 mono (the mean of its channels, as WAV uploads are mixed)."""
    if frame.rate != info.sample_rate or frame.layout.nb_channels != info.channels:
        raise CorruptMediaError(
            f"the audio changes from {info.sample_rate} Hz x {info.channels} channels to "
            f"{frame.rate} Hz x {frame.layout.nb_channels} mid-stream",
            "invalid_audio",
        )
    samples = frame.to_ndarray()
    if not frame.format.is_planar:  # interleaved: (1, frames * channels)
        samples = samples.reshape(-1, info.channels).T
    if samples.dtype.kind in "iu":  # FLAC decodes to integers (FFmpeg's unsigned u8 is offset)
        bits = 8 * samples.dtype.itemsize
        offset = 2.0 ** (bits - 1) if samples.dtype.kind == "u" else 0.0
        samples = (samples.astype(np.float64) - offset) / 2.0 ** (bits - 1)
    mono = samples.astype(np.float32, copy=False).mean(axis=0, dtype=np.float32)
    if not np.all(np.isfinite(mono)):
        raise CorruptMediaError("the decoded audio holds NaN or infinite samples", "invalid_audio")
    return mono


def read_compressed(
    data: bytes, fmt: str, min_rate: int, max_rate: int, max_seconds: float
) -> tuple[np.ndarray, int]:
    """Decode compressed audio into float32 samples shaped (1, frames) (already mono) and the rate."""
    chunks: list[np.ndarray] = []
    with _open(data, fmt) as container:
        stream, info = _stream_info(container, fmt)
        _check_header(info, fmt, min_rate, max_rate)
        stream.codec_context.thread_count = 1  # see the module doc: the budget counts this thread
        # codecs pad the last frame and AAC/MP3 prime the first (up to ~50 ms): a 10.0 s take
        # may decode a little longer, so the cut is 0.1 s past the limit
        limit = int((max_seconds + 0.1) * info.sample_rate)
        decoded = 0
        try:
            for packet in container.demux(stream):
                check_budget("decode")
                for frame in packet.decode():
                    chunks.append(_mono(frame, info))
                    decoded += frame.samples
                    if decoded > limit:
                        raise CorruptMediaError(
                            f"audio is longer than the limit of {max_seconds:g} s (decoding stopped there)",
                            "audio_too_long",
                        )
        except MediaError:
            raise  # (a ValueError too)
        except (av.FFmpegError, ValueError, OSError, EOFError) as exc:
            raise _broken(fmt, exc) from exc
    if decoded == 0:
        raise CorruptMediaError(f"the {NAMES[fmt]} file holds no audio samples", "empty_audio")
    seconds = decoded / info.sample_rate
    if info.declared_s is not None and seconds < 0.9 * info.declared_s - 0.05:
        raise CorruptMediaError(
            f"the header says {info.declared_s:.2f} s of audio but {seconds:.2f} s decoded: "
            "the file is truncated or its header lies",
            "invalid_audio",
        )
    return np.concatenate(chunks)[None], info.sample_rate
