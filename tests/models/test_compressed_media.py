"""FLAC, Ogg Vorbis/Opus, WebM Opus, MP3, M4A AAC, HEIC and AVIF: sniffed from their bytes, decoded
into the one preprocessing path WAV and PNG take, and bounded whatever they claim. Every file is
real: FSDD recordings and MNIST digits encoded with standard encoders (tests/encoded_media.py)."""

import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.audio_preprocess import decode_audio
from models.cpu_budget import TooComplexError, cpu_budget
from models.data import fsdd_items, load_mnist, mnist_png
from models.encoder_config import AudioParams, EncoderConfig
from models.media_errors import CorruptMediaError, MediaError, UnsupportedMediaError
from models.preprocess import ACCEPTED, decoded_size, prepare, sniff
from models.runtime import load_encoders
from models.settings import DataSettings
from models.wav import read_wav, write_wav
from tests.encoded_media import (
    AUDIO_ENCODINGS,
    SNIFFED,
    encode_audio,
    encode_picture,
    flac_claiming,
    many_tracks_webm,
    media_recorder_webm,
    opus_claiming_channels,
    pcm_in_matroska,
    picture_claiming_size,
    video_only,
)
from tests.media import tone

CONFIG = EncoderConfig()
PARAMS = CONFIG.audio
CHECKPOINT = Path("models/checkpoints/digitbridge.pt")


@pytest.fixture(scope="module")
def clip() -> tuple[np.ndarray, int, bytes]:
    """A real FSDD validation recording: its samples (1, frames), rate and WAV bytes."""
    item = fsdd_items(DataSettings().data_dir, "validation")[7]
    wav = item.path.read_bytes()
    samples, rate = read_wav(wav, PARAMS.min_input_rate, PARAMS.max_input_rate, PARAMS.max_seconds)
    return samples, rate, wav


@pytest.fixture(scope="module")
def digit() -> np.ndarray:
    images, _ = load_mnist(DataSettings().data_dir, train=False)
    return images[0]


def media_error(data: bytes) -> MediaError:
    with pytest.raises(MediaError) as caught:
        prepare(data, CONFIG)
    return caught.value


@pytest.mark.parametrize("encoding", AUDIO_ENCODINGS)
def test_each_audio_format_is_sniffed_from_its_bytes(clip, encoding: str) -> None:
    data = encode_audio(clip[0], clip[1], encoding)
    assert sniff(data) == ("audio", SNIFFED[encoding])
    assert prepare(data, CONFIG).format == SNIFFED[encoding]


def test_flac_takes_exactly_the_wav_path(clip) -> None:
    """Lossless: the same samples, the same downmix, resampling, trimming and log-mel."""
    samples, rate, wav = clip
    for channels in (1, 2):  # a stereo file is downmixed as a stereo WAV is
        both = np.repeat(samples, channels, axis=0)
        flac = encode_audio(both, rate, "flac")
        np.testing.assert_array_equal(
            prepare(flac, CONFIG).tensor, prepare(write_wav(both, rate), CONFIG).tensor
        )
    assert np.array_equal(decode_audio(encode_audio(samples, rate, "flac"), PARAMS, "flac")[0], samples[0])


@pytest.mark.parametrize("encoding", AUDIO_ENCODINGS)
def test_lossy_audio_embeds_next_to_its_wav(clip, encoding: str) -> None:
    """What the codec loses does not move the recording in the embedding space: the same
    predicted digit and nearly the same vector as the WAV it was encoded from."""
    samples, rate, wav = clip
    encoders = load_encoders(CHECKPOINT, "cpu")
    tensors = np.stack(
        [prepare(wav, CONFIG).tensor, prepare(encode_audio(samples, rate, encoding), CONFIG).tensor]
    )
    vectors, probs = encoders.classify("audio", tensors)
    assert probs[0].argmax() == probs[1].argmax()
    assert float(vectors[0] @ vectors[1]) > 0.9


@pytest.mark.parametrize("encoding", ["ogg-opus", "webm-opus"])
def test_opus_decodes_at_48khz_and_is_resampled_like_any_rate(clip, encoding: str) -> None:
    samples, rate, _ = clip
    wave, decoded_rate = decode_audio(encode_audio(samples, rate, encoding), PARAMS, SNIFFED[encoding])
    assert decoded_rate == 48_000
    assert abs(wave.size / decoded_rate - samples.shape[1] / rate) < 0.03  # Opus' pre-skip is dropped


def test_a_browser_recording_without_a_stated_length_is_read(clip) -> None:
    """MediaRecorder's WebM states no duration: it decodes to its end, and admission counts the
    10 s it might hold."""
    samples, rate, wav = clip
    data = media_recorder_webm(samples[0], rate)
    assert sniff(data) == ("audio", "webm")
    assert decoded_size(data, "audio", "webm") == PARAMS.max_seconds * 48_000
    wave, decoded_rate = decode_audio(data, PARAMS, "webm")
    assert abs(wave.size / decoded_rate - samples.shape[1] / rate) < 0.03
    assert prepare(data, CONFIG).tensor.shape == (1, PARAMS.n_mels, PARAMS.frames)


@pytest.mark.parametrize("fmt", ["heif", "avif"])
def test_heic_and_avif_digits_become_the_png_digit(digit, fmt: str) -> None:
    data = encode_picture(Image.fromarray(digit), fmt, quality=90)
    assert sniff(data) == ("image", fmt)
    assert decoded_size(data, "image", fmt) == digit.size
    got = prepare(data, CONFIG)
    assert got.format == fmt and got.tensor.shape == (1, 28, 28)
    png = prepare(mnist_png(digit), CONFIG).tensor
    assert float(np.abs(got.tensor - png).mean()) < 0.05  # a few grey levels of compression noise


@pytest.mark.parametrize(
    ("brands", "expected"),
    [
        (b"heic\x00\x00\x00\x00mif1heic", ("image", "heif")),
        (b"mif1\x00\x00\x00\x00mif1heic", ("image", "heif")),
        (b"heix\x00\x00\x00\x00mif1heix", ("image", "heif")),
        (b"msf1\x00\x00\x00\x00msf1hevc", ("image", "heif")),
        (b"avif\x00\x00\x00\x00avifmif1miaf", ("image", "avif")),
        (b"avis\x00\x00\x00\x00avismsf1", ("image", "avif")),
        (b"mif1\x00\x00\x00\x00mif1avif", ("image", "avif")),
        (b"M4A \x00\x00\x02\x00M4A isom", ("audio", "mp4")),
        (b"isom\x00\x00\x02\x00isomiso2mp41", ("audio", "mp4")),
        (b"mp42\x00\x00\x00\x00mp42isom", ("audio", "mp4")),
        (b"3gp4\x00\x00\x00\x00isom3gp4", ("audio", "mp4")),
    ],
)
def test_iso_bmff_brands_tell_pictures_from_audio(brands: bytes, expected: tuple[str, str]) -> None:
    box = (8 + len(brands)).to_bytes(4, "big") + b"ftyp" + brands
    assert sniff(box + bytes(64)) == expected


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"fLaC\x00\x00\x00\x22", "flac"),
        (b"OggS\x00\x02", "ogg"),
        (b"\x1a\x45\xdf\xa3\x9f", "webm"),
        (b"ID3\x04\x00", "mp3"),
        (b"\xff\xfb\x90\x64", "mp3"),  # MPEG-1 Layer III, 128 kbit/s, 44.1 kHz
        (b"\xff\xf3\x14\xc4", "mp3"),  # MPEG-2 Layer III (8-24 kHz speech)
    ],
)
def test_audio_magic_numbers(head: bytes, fmt: str) -> None:
    assert sniff(head + bytes(32)) == ("audio", fmt)


@pytest.mark.parametrize(
    "data",
    [b"\xff\xf1\x50\x80" + bytes(32), b"\xff\xfb\xf0\x64" + bytes(32), b"\xffhello" + bytes(32)],
    ids=["ADTS AAC", "MP3 bad bitrate", "0xFF text"],
)
def test_near_misses_are_415_naming_every_accepted_format(data: bytes) -> None:
    err = media_error(data)
    assert isinstance(err, UnsupportedMediaError) and ACCEPTED in err.message
    for name in ("HEIC", "AVIF", "FLAC", "Ogg", "Opus", "WebM", "MP3", "M4A", "WAV", "PNG"):
        assert name in ACCEPTED


def test_a_jpeg_is_not_an_mp3_frame() -> None:
    assert sniff(b"\xff\xd8\xff\xe0" + bytes(32)) == ("image", "jpeg")


# --- bounds: what a file claims cannot make it costly -----------------------------------------


def test_a_long_recording_is_refused_after_decoding_only_the_limit() -> None:
    """Half an hour of (sparse) audio, 1.6 MB of FLAC: refused once decoding passes 10 s."""
    long = np.zeros(1800 * 8000, dtype=np.float32)
    long[::1000] = 0.01  # a click every 1000 samples: no FLAC block is constant
    data = encode_audio(long, 8000, "flac")
    assert decoded_size(data, "audio", "flac") == 10 * 8000  # the estimate stops where decoding does
    started = time.process_time()
    err = media_error(data)
    assert err.code == "audio_too_long" and "10 s" in err.message
    assert time.process_time() - started < 0.5  # decoding 30 min would take seconds


def test_a_header_claiming_days_of_audio_is_a_lie_told_cheaply(clip) -> None:
    data = flac_claiming(encode_audio(clip[0], clip[1], "flac"), total_samples=2**36 - 1)
    assert decoded_size(data, "audio", "flac") == 10 * 8000  # capped at the decoding limit
    err = media_error(data)
    assert isinstance(err, CorruptMediaError) and err.code == "invalid_audio" and "truncated" in err.message


def test_fifty_channels_are_refused_before_decoding(clip) -> None:
    opus = encode_audio(clip[0], clip[1], "ogg-opus")
    err = media_error(opus_claiming_channels(opus, 50))
    assert err.code == "invalid_audio" and "50 channels" in err.message


@pytest.mark.parametrize("rate", [2_000, 384_000])
def test_sample_rates_outside_the_range_are_400(rate: int) -> None:
    err = media_error(encode_audio(tone(rate), rate, "flac"))
    assert isinstance(err, CorruptMediaError) and err.code == "unsupported_sample_rate"


@pytest.mark.parametrize(
    ("muxer", "codec", "fmt"),
    [("mp4", "mpeg4", "mp4"), ("webm", "libvpx", "webm"), ("mp4", "libx264", "mp4")],
)
def test_video_without_audio_is_400(muxer: str, codec: str, fmt: str) -> None:
    data = video_only(muxer, codec)
    assert sniff(data) == ("audio", fmt)
    assert media_error(data).code == "no_audio_stream"


@pytest.mark.parametrize(("muxer", "codec"), [("mp4", "libx264"), ("webm", "libvpx")])
def test_a_video_with_a_voice_is_searched_by_its_audio_track(clip, muxer: str, codec: str) -> None:
    """A phone's video: the audio track is decoded; the video is never (not even probed)."""
    samples, rate, wav = clip
    data = video_only(muxer, codec, samples[0], rate)
    got = prepare(data, CONFIG)
    assert got.modality == "audio" and got.tensor.shape == (1, PARAMS.n_mels, PARAMS.frames)


def test_a_file_may_hold_a_few_tracks_not_hundreds(clip) -> None:
    """Probing opens a decoder per track: at most MAX_STREAMS (8) are read, more is 400."""
    samples, rate, _ = clip
    assert prepare(many_tracks_webm(samples[0], rate, 8), CONFIG).format == "webm"
    for tracks in (9, 200):
        err = media_error(many_tracks_webm(samples[0], rate, tracks))
        assert err.code == "invalid_audio" and "more than 8 tracks" in err.message


def test_a_codec_we_do_not_decode_is_415() -> None:
    err = media_error(pcm_in_matroska(tone(8000), 8000))
    assert isinstance(err, UnsupportedMediaError) and err.code == "unsupported_audio_codec"


@pytest.mark.parametrize("encoding", AUDIO_ENCODINGS)
def test_truncated_and_damaged_audio_is_a_typed_error_never_a_crash(clip, encoding: str) -> None:
    """Cut at the header: always 400. Cut mid-stream: 400 where the container states its length
    (FLAC, MP4) or checks its pages (Ogg); a WebM or MP3 stream states none and decodes up to the
    cut, as players do. Bytes inverted mid-file: a typed error or a decode, never anything else."""
    data = encode_audio(clip[0], clip[1], encoding)
    assert isinstance(media_error(data[:40]), CorruptMediaError)
    half = data[: len(data) // 2]
    if encoding.startswith(("flac", "ogg", "m4a")):
        assert isinstance(media_error(half), CorruptMediaError)
    damaged = bytearray(data)
    damaged[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
    for variant in (half, bytes(damaged)):
        try:
            prepared = prepare(variant, CONFIG)
        except MediaError as exc:
            assert type(exc) in (CorruptMediaError, UnsupportedMediaError) and exc.code
        else:
            assert prepared.tensor.shape == (1, PARAMS.n_mels, PARAMS.frames)


@pytest.mark.parametrize("encoding", ["flac", "ogg-opus", "mp3"])
def test_compressed_audio_runs_under_the_cpu_budget(clip, encoding: str) -> None:
    data = encode_audio(clip[0], clip[1], encoding)
    with cpu_budget(0.0), pytest.raises(TooComplexError):
        prepare(data, CONFIG)


@pytest.mark.parametrize("fmt", ["heif", "avif"])
def test_a_tiny_picture_claiming_100k_by_100k_is_refused_unread(digit, fmt: str) -> None:
    data = picture_claiming_size(encode_picture(Image.fromarray(digit), fmt), 100_000, 100_000)
    err = media_error(data)
    assert isinstance(err, CorruptMediaError)
    assert err.code in ("decompression_bomb", "invalid_image")


@pytest.mark.parametrize("fmt", ["heif", "avif"])
def test_a_picture_claiming_more_than_the_pixel_cap_is_400(digit, fmt: str) -> None:
    data = picture_claiming_size(encode_picture(Image.fromarray(digit), fmt), 10_000, 10_000)
    err = media_error(data)
    assert isinstance(err, CorruptMediaError) and err.code in ("decompression_bomb", "invalid_image")


@pytest.mark.parametrize("fmt", ["heif", "avif"])
def test_truncated_pictures_are_400(digit, fmt: str) -> None:
    data = encode_picture(Image.fromarray(digit), fmt)
    for cut in (40, len(data) // 2, len(data) - 8):
        assert media_error(data[:cut]).code == "invalid_image"


def test_the_limits_come_from_the_audio_params() -> None:
    """One set of limits for WAV and compressed audio: the checkpoint's AudioParams."""
    strict = AudioParams(max_seconds=0.5)
    data = encode_audio(tone(8000, seconds=1.0), 8000, "ogg-opus")
    with pytest.raises(CorruptMediaError) as caught:
        decode_audio(data, strict, "ogg")
    assert caught.value.code == "audio_too_long"


@pytest.mark.parametrize("encoding", AUDIO_ENCODINGS)
def test_the_admission_estimate_is_the_most_decoding_may_produce(clip, encoding: str) -> None:
    """decoded_size (the light/heavy lane choice) reads the header only: rate x channels x the
    10 s where decoding stops, whatever length the file states (which could lie low)."""
    data = encode_audio(clip[0], clip[1], encoding)
    _, rate = decode_audio(data, PARAMS, SNIFFED[encoding])
    channels = 2 if encoding == "ogg-vorbis" else 1  # FFmpeg's Vorbis encoder writes stereo
    assert decoded_size(data, "audio", SNIFFED[encoding]) == PARAMS.max_seconds * rate * channels


def test_a_costly_recording_goes_to_the_heavy_lane_and_stays_in_budget() -> None:
    """10 s of 6-channel 192 kHz FLAC: 11 M samples by its header (over HEAVY_UPLOAD_SIZE's 4 M
    default), prepared well inside PREPROCESS_CPU_S's default second."""
    rate = 192_000
    t = np.arange(int(9.9 * rate)) / rate
    word = 0.3 * np.sin(2 * np.pi * 300 * t) * np.exp(-(((t - 5) / 0.3) ** 2))
    data = encode_audio(np.tile(word, (6, 1)), rate, "flac")
    assert decoded_size(data, "audio", "flac") > 4_000_000
    with cpu_budget(1.0):
        assert prepare(data, CONFIG).tensor.shape == (1, PARAMS.n_mels, PARAMS.frames)


@pytest.mark.parametrize("encoding", AUDIO_ENCODINGS)
def test_ten_seconds_pass_and_a_little_more_does_not(encoding: str) -> None:
    """The 10 s limit holds for every codec: a 9.99 s take passes though codecs pad and prime
    their frames (AAC, MP3: up to ~50 ms more decoded), 10.2 s is refused."""
    rate = 48_000 if "opus" in encoding else 44_100
    for seconds, refused in ((9.99, False), (10.2, True)):
        take = np.zeros(int(seconds * rate), dtype=np.float32)
        word = tone(rate)
        take[rate : rate + word.size] = word
        data = encode_audio(take, rate, encoding)
        if refused:
            assert media_error(data).code == "audio_too_long"
        else:
            assert prepare(data, CONFIG).tensor.shape == (1, PARAMS.n_mels, PARAMS.frames)
