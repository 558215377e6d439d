"""Fuzzing the decoders directly (hypothesis, derandomized): random bytes behind every magic
number the service sniffs, mutations of valid files of every accepted format, and WAV headers
with every field free. Whatever the bytes, models.preprocess.prepare either returns the model's
input (finite, the encoder's shape) or raises one of the typed media errors: nothing else escapes.
"""

import struct
import subprocess
import sys
import warnings
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models.encoder_config import EncoderConfig
from models.media_errors import MediaError
from models.preprocess import prepare
from tests.encoded_media import AUDIO_ENCODINGS, encode_audio, encode_picture
from tests.media import digit_image, digit_picture, raw_wav, tone, wav_bytes

CONFIG = EncoderConfig()
RATES = (16000, 22050, 48000, 24000, 44100, 8000)  # one per AUDIO_ENCODINGS entry, in its order
SHAPES = {
    "image": (1, CONFIG.image.size, CONFIG.image.size),
    "audio": (1, CONFIG.audio.n_mels, CONFIG.audio.frames),
}
MAGIC = [
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF87a",
    b"GIF89a",
    b"RIFF\x00\x01\x00\x00WEBPVP8 ",
    b"RIFF\x00\x01\x00\x00WEBPVP8L",
    b"RIFF\x00\x01\x00\x00WEBPVP8X",
    b"II*\x00",
    b"MM\x00*",
    b"BM",
    b"RIFF\x00\x01\x00\x00WAVEfmt ",
    b"RIFX\x00\x00\x01\x00WAVEfmt ",
    b"fLaC",
    b"OggS\x00\x02",
    b"\x1a\x45\xdf\xa3",
    b"ID3\x04\x00",
    b"\xff\xfb\x90\x64",
    b"\x00\x00\x00\x18ftypM4A \x00\x00\x02\x00M4A isom",
    b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
    b"\x00\x00\x00\x18ftypavif\x00\x00\x00\x00avifmif1",
    b"",
]
SEEDS = [digit_image(fmt) for fmt in ("PNG", "JPEG", "GIF", "WEBP", "TIFF", "BMP")] + [
    digit_image("PNG", (300, 40)),
    wav_bytes(tone(8000), 8000),
    wav_bytes(tone(11025), 11025, bits=8),
    wav_bytes(tone(16000), 16000, bits=24, extensible=True, channels=2),
    wav_bytes(tone(22050), 22050, bits=32, encoding="float"),
    wav_bytes(tone(8000), 8000, big_endian=True),
]
# FFmpeg's, libheif's and libavif's decoders behind our bounds: a tone and a digit in each format
COMPRESSED_SEEDS = [
    encode_audio(tone(rate), rate, encoding) for encoding, rate in zip(AUDIO_ENCODINGS, RATES, strict=True)
] + [encode_picture(digit_picture((60, 72)), fmt) for fmt in ("heif", "avif")]
FUZZ = settings(
    derandomize=True,  # the same examples on every run: a failure here is reproducible
    deadline=None,  # the machine is shared; time is bounded by max_examples
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
EXTREMES = [0, 1, 2, 0x7F, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]


def assert_prepared_or_typed_error(data: bytes) -> None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns about the EXIF it cannot read: not an error
            prepared = prepare(data, CONFIG)
    except MediaError as exc:  # the typed errors, each with a code and a message
        assert exc.code and exc.message
        return
    assert tuple(prepared.tensor.shape) == SHAPES[prepared.modality]
    assert bool(np.isfinite(prepared.tensor).all())


@pytest.mark.slow
@settings(FUZZ, max_examples=1000)
@given(magic=st.sampled_from(MAGIC), tail=st.binary(max_size=4096))
def test_random_bytes_behind_every_magic_number(magic: bytes, tail: bytes) -> None:
    assert_prepared_or_typed_error(magic + tail)


def _mutate(data: bytearray, kind: str, at: int, value: int, blob: bytes) -> None:
    """One mutation at a relative position `at` (0..2^16) of the file."""
    where = at * len(data) // (1 << 16) if data else 0
    ops: dict[str, Callable[[], None]] = {
        "flip": lambda: data.__setitem__(slice(where, where + 1), bytes([value & 0xFF])) if data else None,
        "truncate": lambda: data.__delitem__(slice(where, None)),
        "insert": lambda: data.__setitem__(slice(where, where), blob),
        "delete": lambda: data.__delitem__(slice(where, where + len(blob) + 1)),
        "field32": lambda: data.__setitem__(slice(where, where + 4), struct.pack("<I", value)),
        "field32be": lambda: data.__setitem__(slice(where, where + 4), struct.pack(">I", value)),
        "field16": lambda: data.__setitem__(slice(where, where + 2), struct.pack("<H", value & 0xFFFF)),
    }
    ops[kind]()


def _mutated(seed: bytes, mutations: list[tuple[str, int, int, bytes]]) -> bytes:
    data = bytearray(seed)
    for kind, at, value, blob in mutations:
        _mutate(data, kind, at, value, blob)
    return bytes(data)


MUTATION = st.tuples(
    st.sampled_from(["flip", "truncate", "insert", "delete", "field32", "field32be", "field16"]),
    st.integers(0, (1 << 16) - 1),
    st.one_of(st.sampled_from(EXTREMES), st.integers(0, 0xFFFFFFFF)),
    st.binary(max_size=64),
)


@pytest.mark.slow
@settings(FUZZ, max_examples=1500)
@given(seed=st.sampled_from(SEEDS), mutations=st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_valid_files(seed: bytes, mutations: list[tuple[str, int, int, bytes]]) -> None:
    assert_prepared_or_typed_error(_mutated(seed, mutations))


@pytest.mark.slow
@settings(FUZZ, max_examples=800)
@given(seed=st.sampled_from(COMPRESSED_SEEDS), mutations=st.lists(MUTATION, min_size=1, max_size=4))
def test_mutated_compressed_files(seed: bytes, mutations: list[tuple[str, int, int, bytes]]) -> None:
    assert_prepared_or_typed_error(_mutated(seed, mutations))


@pytest.mark.slow
@settings(FUZZ, max_examples=1000)
@given(
    channels=st.one_of(st.sampled_from([0, 1, 2, 16, 17, 65_535]), st.integers(0, 0xFFFF)),
    rate=st.one_of(
        st.sampled_from([0, 1, 3_999, 4_000, 8_000, 192_000, 192_001]), st.integers(0, 0xFFFFFFFF)
    ),
    bits=st.sampled_from([0, 1, 4, 8, 12, 16, 24, 32, 64, 0xFFFF]),
    tag=st.sampled_from([0, 1, 2, 3, 0x11, 0x55, 0xFFFE, 0xFFFF]),
    block_align=st.one_of(st.none(), st.integers(0, 0xFFFF)),
    declared=st.one_of(st.none(), st.sampled_from(EXTREMES)),
    samples=st.one_of(st.none(), st.binary(max_size=3000)),
)
def test_wav_headers_with_every_field_free(
    channels: int,
    rate: int,
    bits: int,
    tag: int,
    block_align: int | None,
    declared: int | None,
    samples: bytes | None,
) -> None:
    data = raw_wav(channels, rate, bits, tag, samples, declared, block_align)
    assert_prepared_or_typed_error(data)


def test_the_seeds_are_valid_uploads() -> None:
    """Mutations start from files the service accepts, so they reach deep into each decoder."""
    for seed in SEEDS + COMPRESSED_SEEDS:
        assert tuple(prepare(seed, CONFIG).tensor.shape) in SHAPES.values()


PEAK_RSS_AFTER_PREPARE = """
import resource, sys
from models.encoder_config import EncoderConfig
from models.preprocess import prepare
prepare(sys.stdin.buffer.read(), EncoderConfig())
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
"""


def peak_rss_mb_preparing(data: bytes) -> int:
    """Peak resident memory of a fresh interpreter that prepares `data` (MB)."""
    out = subprocess.run(
        [sys.executable, "-c", PEAK_RSS_AFTER_PREPARE],
        input=data,
        capture_output=True,
        check=True,
        timeout=300,
    )
    return int(out.stdout.decode().split()[-1])


@pytest.mark.slow
def test_an_odd_sample_rate_costs_what_a_common_one_does() -> None:
    """A rate sharing no factor with 8 kHz (96,001 Hz) once made the resampler build a 8,000 x
    96,001-tap kernel: 13 GB and ~50 s from a 100 kB upload. Now it costs what 96 kHz costs."""
    common = peak_rss_mb_preparing(wav_bytes(tone(96_000), 96_000))
    odd = peak_rss_mb_preparing(wav_bytes(tone(96_001), 96_001))
    assert odd < common + 200, f"96,001 Hz peaked at {odd} MB, 96,000 Hz at {common} MB"
