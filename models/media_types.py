"""Which media an upload is, from its leading bytes (magic numbers, ISO BMFF brands), never
from its file name or Content-Type: one table of what the service accepts."""

import struct

from models.compressed_audio import sniff_audio
from models.media_errors import CorruptMediaError, UnsupportedMediaError
from models.modality import Modality
from models.wav import is_wav

ACCEPTED = (
    "PNG, JPEG, BMP, GIF, WebP, TIFF, HEIC/HEIF or AVIF images; WAV, FLAC, Ogg (Vorbis, Opus), "
    "WebM (Opus), MP3 or MP4/M4A (AAC) audio"
)

# ISO BMFF (the `ftyp` box) carries HEIF and AVIF pictures as well as MP4/M4A audio
_AVIF_BRANDS = {b"avif", b"avis"}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"heif"}
_GENERIC_IMAGE_BRANDS = {b"mif1", b"msf1"}  # HEIF's structure brands: the codec is in the others
_MAX_BRANDS = 64  # compatible brands read at most (a box claiming 4 GB of brands is not read)


def _iso_brands(data: bytes) -> tuple[bytes, set[bytes]] | None:
    """(major brand, all brands) of an ISO BMFF file, or None when it does not start with ftyp."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return None
    size = struct.unpack(">I", data[:4])[0]
    end = min(size, len(data), 16 + 4 * _MAX_BRANDS) if size >= 16 else 16
    major = data[8:12]
    compatible = {data[i : i + 4] for i in range(16, end - 3, 4)}
    return major, compatible | {major}


def _iso_format(data: bytes) -> tuple[Modality, str] | None:
    found = _iso_brands(data)
    if found is None:
        return None
    major, brands = found
    if major in _AVIF_BRANDS:
        return "image", "avif"
    if major in _HEIF_BRANDS:
        return "image", "heif"
    if major in _GENERIC_IMAGE_BRANDS:
        return "image", "avif" if brands & _AVIF_BRANDS and not brands & _HEIF_BRANDS else "heif"
    return "audio", "mp4"  # M4A, isom, mp42, 3gp...: its audio track is searched


def sniff(data: bytes) -> tuple[Modality, str]:
    """Tell the modality and format from the leading bytes (never from a file name)."""
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image", "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image", "jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image", "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image", "webp"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "image", "tiff"
    if head.startswith(b"BM") and len(data) >= 26:
        return "image", "bmp"
    if is_wav(data):
        return "audio", "wav"
    iso = _iso_format(data[: 16 + 4 * _MAX_BRANDS])
    if iso is not None:
        return iso
    compressed = sniff_audio(head)
    if compressed is not None:
        return "audio", compressed
    if not data:
        raise CorruptMediaError("the upload is empty (0 bytes)", "empty_upload")
    raise UnsupportedMediaError(f"unrecognised file type; this service accepts {ACCEPTED}")
