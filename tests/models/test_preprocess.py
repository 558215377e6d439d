"""Every accepted format is read and normalised; every refusal is a typed error."""

import numpy as np
import pytest
from PIL import Image

from models.audio_preprocess import decode_audio, trim_silence
from models.data import encode_image
from models.encoder_config import AudioParams, EncoderConfig
from models.image_preprocess import MNIST_MEAN, MNIST_STD
from models.media_errors import CorruptMediaError, MediaError, UnsupportedMediaError
from models.preprocess import prepare, sniff
from models.wav import read_wav
from tests.media import digit_picture, lying_wav, png_bomb, tone, wav_bytes

CONFIG = EncoderConfig()
AUDIO_SHAPE = (1, CONFIG.audio.n_mels, CONFIG.audio.frames)


# ----------------------------------------------------------------- images

IMAGE_FORMATS = [
    ("PNG", "png"),
    ("JPEG", "jpeg"),
    ("BMP", "bmp"),
    ("GIF", "gif"),
    ("WEBP", "webp"),
    ("TIFF", "tiff"),
]
MODES = ["L", "LA", "RGB", "RGBA", "P"]


def _in_mode(mode: str, dark_on_light: bool) -> Image.Image:
    base = digit_picture() if dark_on_light else digit_picture(ink=255, paper=0)
    return base.convert(mode)


@pytest.mark.parametrize(("pil_format", "name"), IMAGE_FORMATS)
@pytest.mark.parametrize("mode", MODES)
def test_every_image_format_and_mode_normalises_to_an_mnist_like_digit(pil_format, name, mode):
    if pil_format == "JPEG" and mode in ("LA", "RGBA", "P"):
        mode = "RGB"  # JPEG has no alpha or palette
    if pil_format == "BMP" and mode == "LA":
        mode = "L"
    data = encode_image(_in_mode(mode, dark_on_light=True), pil_format)
    query = prepare(data, CONFIG)
    assert (query.modality, query.format) == ("image", name)
    assert query.tensor.shape == (1, 28, 28) and query.tensor.dtype == np.float32
    grey = query.tensor[0] * MNIST_STD + MNIST_MEAN  # back to [0, 1]
    assert grey.min() == pytest.approx(0.0, abs=1e-5) and grey.max() > 0.9
    corners = np.stack([grey[:3, :3], grey[:3, -3:], grey[-3:, :3], grey[-3:, -3:]])
    assert corners.max() < 0.05, "background must be dark, the digit light, as in MNIST"
    rows = np.flatnonzero(grey.sum(1) > 0.05)
    cols = np.flatnonzero(grey.sum(0) > 0.05)
    assert rows[-1] - rows[0] + 1 <= 22 and cols[-1] - cols[0] + 1 <= 22, "digit fits the 20x20 box"


def test_polarity_and_size_do_not_matter():
    dark_on_light = prepare(encode_image(digit_picture((400, 480)), "PNG"), CONFIG).tensor
    light_on_dark = prepare(encode_image(digit_picture((100, 120), ink=255, paper=0), "PNG"), CONFIG).tensor
    a, b = dark_on_light.flatten(), light_on_dark.flatten()
    assert a @ b / (np.linalg.norm(a) * np.linalg.norm(b)) > 0.9


def test_transparent_canvas_with_dark_or_light_strokes():
    for colour in ((0, 0, 0), (255, 255, 255)):
        rgba = Image.new("RGBA", (280, 280), (0, 0, 0, 0))
        alpha = digit_picture((280, 280), ink=255, paper=0)
        rgba.paste(Image.new("RGBA", (280, 280), (*colour, 255)), mask=alpha)
        grey = prepare(encode_image(rgba, "PNG"), CONFIG).tensor[0] * MNIST_STD + MNIST_MEAN
        assert grey.max() > 0.9 and grey[:3, :3].max() < 0.05


def test_same_bytes_same_tensor():
    data = encode_image(digit_picture(), "JPEG", quality=80)
    assert np.array_equal(prepare(data, CONFIG).tensor, prepare(data, CONFIG).tensor)


@pytest.mark.parametrize(
    ("data", "error", "code"),
    [
        (b"", CorruptMediaError, "empty_upload"),
        (b"hello, I am a text file renamed to seven.png\n", UnsupportedMediaError, "unsupported_media_type"),
        (b"%PDF-1.7\n" + b"0" * 100, UnsupportedMediaError, "unsupported_media_type"),
        (png_bomb(50_000, 50_000), CorruptMediaError, "decompression_bomb"),
    ],
)
def test_refusals(data, error, code):
    with pytest.raises(error) as caught:
        prepare(data, CONFIG)
    assert caught.value.code == code


def test_truncated_png_is_broken_content():
    data = encode_image(digit_picture(), "PNG")
    with pytest.raises(CorruptMediaError) as caught:
        prepare(data[: len(data) // 2], CONFIG)
    assert type(caught.value) is CorruptMediaError  # broken content: the service answers 400


def test_blank_image_is_refused():
    with pytest.raises(CorruptMediaError, match="blank"):
        prepare(encode_image(Image.new("L", (64, 64), 255), "PNG"), CONFIG)


# ----------------------------------------------------------------- audio

ENCODINGS = [(8, "pcm"), (16, "pcm"), (24, "pcm"), (32, "pcm"), (32, "float"), (64, "float")]


@pytest.mark.parametrize(("bits", "encoding"), ENCODINGS)
@pytest.mark.parametrize("big_endian", [False, True])
def test_every_wav_encoding_decodes_to_the_same_samples(bits, encoding, big_endian):
    samples = tone(8000)
    data = wav_bytes(samples, 8000, bits=bits, encoding=encoding, big_endian=big_endian)
    decoded, rate = read_wav(data, 4000, 192000, 10.0)
    assert rate == 8000 and decoded.shape == (1, samples.size) and decoded.dtype == np.float32
    tolerance = 2.0 / 128 if bits == 8 else 1e-4  # 8-bit steps are 1/128
    np.testing.assert_allclose(decoded[0], samples, atol=tolerance)


@pytest.mark.parametrize("rate", [4000, 8000, 11025, 16000, 22050, 44100, 48000, 96000, 192000])
@pytest.mark.parametrize("channels", [1, 2, 6])
def test_any_rate_and_channel_count_gives_a_fixed_size_spectrogram(rate, channels):
    data = wav_bytes(tone(rate), rate, channels=channels, extensible=channels > 2)
    query = prepare(data, CONFIG)
    assert (query.modality, query.format) == ("audio", "wav")
    assert query.tensor.shape == AUDIO_SHAPE and query.tensor.dtype == np.float32
    assert np.isfinite(query.tensor).all()
    assert abs(query.tensor.mean()) < 0.5, "spectrogram is standardised per utterance"


def test_stereo_44k_with_silence_matches_mono_8k_of_the_same_word():
    mono = prepare(wav_bytes(tone(8000, lead=0.0), 8000), CONFIG).tensor
    stereo = prepare(wav_bytes(tone(44100, lead=1.0), 44100, channels=2, bits=24), CONFIG).tensor
    cosine = np.dot(mono.ravel(), stereo.ravel()) / (np.linalg.norm(mono) * np.linalg.norm(stereo))
    assert cosine > 0.9


def test_silence_is_trimmed_around_the_word():
    params = AudioParams()
    wave, rate = decode_audio(wav_bytes(tone(8000, seconds=0.4, lead=1.5), 8000), params)
    trimmed = trim_silence(wave, params)
    assert 0.3 * rate < trimmed.size < 0.6 * rate


def test_same_wav_same_tensor():
    data = wav_bytes(tone(16000), 16000, channels=2)
    assert np.array_equal(prepare(data, CONFIG).tensor, prepare(data, CONFIG).tensor)


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: lying_wav(wav_bytes(tone(8000), 8000)), "invalid_wav"),
        (lambda: wav_bytes(np.zeros(8000), 8000), "silent_audio"),
        (lambda: wav_bytes(np.zeros(0), 8000), "empty_audio"),
        (lambda: wav_bytes(tone(8000, seconds=11.0), 8000), "audio_too_long"),
        (lambda: wav_bytes(tone(2000), 2000), "unsupported_sample_rate"),
        (lambda: wav_bytes(tone(8000), 8000)[:40], "invalid_wav"),
        (lambda: wav_bytes(np.full(800, np.nan), 8000, bits=32, encoding="float"), "invalid_wav"),
    ],
)
def test_wav_refusals_are_broken_content(make, code):
    with pytest.raises(CorruptMediaError) as caught:
        prepare(make(), CONFIG)
    assert caught.value.code == code and type(caught.value) is CorruptMediaError  # 400, not 415


def test_unsupported_wav_encoding_is_415():
    data = bytearray(wav_bytes(tone(8000), 8000))
    at = data.index(b"fmt ") + 8
    data[at : at + 2] = (2).to_bytes(2, "little")  # ADPCM
    with pytest.raises(UnsupportedMediaError):
        prepare(bytes(data), CONFIG)


def test_sniff_reads_magic_bytes_not_names():
    assert sniff(encode_image(digit_picture(), "PNG")) == ("image", "png")
    assert sniff(wav_bytes(tone(8000), 8000)) == ("audio", "wav")
    with pytest.raises(MediaError):
        sniff(b"RIFF\x00\x00\x00\x00AVI LIST")
