"""Real compressed uploads made in tests with standard encoders: FFmpeg's (PyAV's wheels bundle
libopus, libmp3lame, and FFmpeg's own FLAC, AAC and Vorbis encoders) for audio, libheif's x265
(pillow-heif) and libavif (Pillow) for pictures. Made at test time: nothing binary is committed."""

import io
import struct

import av
import numpy as np
from PIL import Image

from models.image_preprocess import PIL_NAMES  # noqa: F401 - registers the HEIF plugin with Pillow

# name -> (FFmpeg muxer, encoder, bit rate or None for the encoder's default): what a browser,
# a phone or a desktop tool writes, at the rates they use for speech
AUDIO_ENCODINGS: dict[str, tuple[str, str, int | None]] = {
    "flac": ("flac", "flac", None),
    "ogg-vorbis": ("ogg", "vorbis", None),
    "ogg-opus": ("ogg", "libopus", 32_000),
    "webm-opus": ("webm", "libopus", 32_000),  # Chrome's and Firefox's MediaRecorder
    "mp3": ("mp3", "libmp3lame", 64_000),
    "m4a-aac": ("ipod", "aac", 64_000),  # Safari's MediaRecorder, phone voice memos
}
SNIFFED = {"flac": "flac", "ogg-vorbis": "ogg", "ogg-opus": "ogg", "webm-opus": "webm", "mp3": "mp3"}
SNIFFED["m4a-aac"] = "mp4"
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)


def encode_audio(samples: np.ndarray, rate: int, encoding: str) -> bytes:
    """Float samples in [-1, 1], (frames,) or (channels, frames), encoded as `encoding`.

    FFmpeg's Vorbis encoder (the wheels carry no libvorbis) writes stereo only: mono input is
    sent on both channels."""
    muxer, codec, bit_rate = AUDIO_ENCODINGS[encoding]
    planes = np.atleast_2d(np.asarray(samples, dtype=np.float32))
    if codec == "vorbis" and planes.shape[0] == 1:
        planes = np.repeat(planes, 2, axis=0)
    layout = {1: "mono", 2: "stereo", 6: "5.1"}.get(planes.shape[0], f"{planes.shape[0]}c")
    buffer = io.BytesIO()
    # bitexact: no random Ogg serial numbers or WebM UIDs, so the same input gives the same bytes
    with av.open(buffer, "w", format=muxer, options={"fflags": "+bitexact"}) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        if bit_rate is not None:
            stream.codec_context.bit_rate = bit_rate
        if codec == "vorbis":
            stream.codec_context.options = {"strict": "experimental"}
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(planes), format="fltp", layout=layout)
        frame.rate = rate
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()


def _mono_packets(stream: av.AudioStream, samples: np.ndarray, rate: int) -> list[av.Packet]:
    """The whole mono recording through `stream`'s encoder, flushed."""
    frame = av.AudioFrame.from_ndarray(
        np.asarray(samples, dtype=np.float32)[None], format="fltp", layout="mono"
    )
    frame.rate = rate
    return [*stream.encode(frame), *stream.encode(None)]


def many_tracks_webm(samples: np.ndarray, rate: int, tracks: int) -> bytes:
    """The same mono recording as `tracks` Opus tracks of one WebM file."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="webm", options={"fflags": "+bitexact"}) as out:
        packets = []
        for _ in range(tracks):
            packets += _mono_packets(out.add_stream("libopus", rate=rate, layout="mono"), samples, rate)
        for packet in packets:
            out.mux(packet)
    return buffer.getvalue()


def media_recorder_webm(samples: np.ndarray, rate: int) -> bytes:
    """Mono samples as a browser's MediaRecorder writes them: Opus in a live WebM (no duration,
    clusters of unknown size), fed in 100 ms slices."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="webm", options={"live": "1", "fflags": "+bitexact"}) as out:
        stream = out.add_stream("libopus", rate=rate, layout="mono")
        wave = np.asarray(samples, dtype=np.float32)
        step = rate // 10
        for start in range(0, wave.size, step):
            frame = av.AudioFrame.from_ndarray(wave[None, start : start + step], format="fltp", layout="mono")
            frame.rate, frame.pts = rate, start
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buffer.getvalue()


def encode_picture(image: Image.Image, fmt: str, **options: object) -> bytes:
    """A picture as HEIC ("heif", x265) or AVIF ("avif", libavif) bytes."""
    buffer = io.BytesIO()
    image.save(buffer, format=PIL_NAMES[fmt], **options)
    return buffer.getvalue()


def pcm_in_matroska(samples: np.ndarray, rate: int) -> bytes:
    """Mono 16-bit PCM in a Matroska file: a container we read holding a codec we do not."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="matroska") as out:
        for packet in _mono_packets(out.add_stream("pcm_s16le", rate=rate, layout="mono"), samples, rate):
            out.mux(packet)
    return buffer.getvalue()


def video_only(muxer: str, codec: str, speech: np.ndarray | None = None, rate: int = 8000) -> bytes:
    """A few frames of 16x16 video (a screen recording, a WebM clip) and, when `speech` is given,
    that mono recording as an AAC (MP4) or Opus (WebM) track beside it: a phone's video."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=muxer, options={"fflags": "+bitexact"}) as out:
        stream = out.add_stream(codec, rate=10)
        stream.width = stream.height = 16
        stream.pix_fmt = "yuv420p"
        packets = []
        for i in range(5):
            image = np.full((16, 16, 3), 40 * i, dtype=np.uint8)
            packets += stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24"))
        packets += stream.encode(None)
        if speech is not None:
            sound = out.add_stream("aac" if muxer == "mp4" else "libopus", rate=rate, layout="mono")
            packets += _mono_packets(sound, speech, rate)
        for packet in packets:
            out.mux(packet)
    return buffer.getvalue()


def _ogg_crc(data: bytes) -> int:
    """Ogg's page checksum: CRC-32, polynomial 0x04C11DB7, unreflected, initial value 0."""
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7 if crc & 0x80000000 else crc << 1) & 0xFFFFFFFF
    return crc


def ogg_page(page: bytes, packet: bytes) -> bytes:
    """`page` (an Ogg page holding one packet) carrying `packet` instead, checksum recomputed."""
    lacing = [255] * (len(packet) // 255) + [len(packet) % 255]
    head = page[:22] + b"\x00\x00\x00\x00" + bytes([len(lacing), *lacing])
    crc = _ogg_crc(head + packet)
    return head[:22] + struct.pack("<I", crc) + head[26:] + packet


def opus_claiming_channels(ogg_opus: bytes, channels: int) -> bytes:
    """A real Ogg Opus file whose identification header claims `channels` channels (mapping
    family 255: one stream, every channel mapped to it), with valid page checksums."""
    first_len = 27 + ogg_opus[26] + sum(ogg_opus[27 : 27 + ogg_opus[26]])
    head = ogg_opus[27 + ogg_opus[26] : first_len]
    assert head.startswith(b"OpusHead")
    claimed = head[:9] + bytes([channels]) + head[10:18] + bytes([255, 1, 0]) + bytes(channels)
    return ogg_page(ogg_opus[:first_len], claimed) + ogg_opus[first_len:]


def flac_claiming(flac: bytes, rate: int | None = None, total_samples: int | None = None) -> bytes:
    """A real FLAC file whose STREAMINFO claims another sample rate (20 bits) or length (36 bits)."""
    at = 4 + 4 + 10  # "fLaC", the block header, then min/max block and frame sizes
    packed = int.from_bytes(flac[at : at + 8], "big")
    if rate is not None:
        packed = (packed & ~(0xFFFFF << 44)) | (rate << 44)
    if total_samples is not None:
        packed = (packed & ~0xFFFFFFFFF) | total_samples
    return flac[:at] + packed.to_bytes(8, "big") + flac[at + 8 :]


def picture_claiming_size(data: bytes, width: int, height: int) -> bytes:
    """A real HEIC or AVIF whose `ispe` (image spatial extents) box claims width x height."""
    at = data.index(b"ispe") + 8  # after the box type and its version and flags
    return data[:at] + struct.pack(">II", width, height) + data[at + 8 :]
