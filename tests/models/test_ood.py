"""The OOD generator makes real upload bytes the service accepts, deterministically.

No accuracy thresholds here: the OOD numbers are reported in the model card.
"""

import io
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from models.encoder_config import EncoderConfig
from models.ood import rendered_digits as drawn
from models.ood import speech as spoken
from models.ood.report import evaluate_ood
from models.preprocess import prepare, sniff
from models.settings import ModelSettings
from models.wav import read_wav

CONFIG = EncoderConfig()
# one voice per group keeps generation quick; every upload format is still covered
SOME_VOICES = tuple({v.group: v for v in spoken.VOICES}.values())


@pytest.fixture(scope="module")
def speech() -> list[spoken.OodAudio]:
    return spoken.generate_speech(voices=SOME_VOICES)


@pytest.fixture(scope="module")
def digits() -> list[drawn.OodImage]:
    return drawn.rendered_digits()


def _fmt_chunk(data: bytes) -> tuple[int, int, int, int]:
    """(format tag, channels, rate, bits) from the 'fmt ' chunk, sub-format for EXTENSIBLE."""
    pos = 12
    while data[pos : pos + 4] != b"fmt ":
        pos += 8 + struct.unpack("<I", data[pos + 4 : pos + 8])[0]
    tag, channels, rate, _, _, bits = struct.unpack("<HHIIHH", data[pos + 8 : pos + 24])
    if tag == 0xFFFE:
        tag = struct.unpack("<H", data[pos + 32 : pos + 34])[0]
    return tag, channels, rate, bits


def test_default_speech_set_size_and_voices() -> None:
    # 200-400 clips; women's and children's voices are there, not only men's
    total = len(spoken.VOICES) * len(spoken.UPLOADS) * len(spoken.DIGIT_WORDS)
    assert 200 <= total <= 400
    groups = {v.group for v in spoken.VOICES}
    assert {"female", "child"} <= groups
    assert len({v.key for v in spoken.VOICES}) == len(spoken.VOICES)


def test_speech_clips_are_wavs_the_service_accepts(speech: list[spoken.OodAudio]) -> None:
    assert len(speech) == len(SOME_VOICES) * len(spoken.UPLOADS) * 10
    assert len({c.name for c in speech}) == len(speech)
    for clip in speech:
        assert sniff(clip.bytes) == ("audio", "wav"), clip.name
        prepared = prepare(clip.bytes, CONFIG)
        assert prepared.modality == "audio"
        assert prepared.tensor.shape == (1, CONFIG.audio.n_mels, CONFIG.audio.frames)
        assert torch.isfinite(prepared.tensor).all(), clip.name


@pytest.mark.parametrize("upload", spoken.UPLOADS, ids=lambda u: u.key)
def test_each_upload_format_is_what_it_says(
    speech: list[spoken.OodAudio], upload: spoken.AudioUpload
) -> None:
    clips = [c for c in speech if c.style == upload.key]
    assert sorted({c.label for c in clips}) == list(range(10))
    expected_tag = 3 if upload.encoding == "float32" else 1
    expected_bits = {"pcm16": 16, "pcm24": 24, "float32": 32}[upload.encoding]
    for clip in clips:
        assert _fmt_chunk(clip.bytes) == (expected_tag, upload.channels, upload.rate, expected_bits)
        samples, rate = read_wav(clip.bytes, 4_000, 192_000, 10.0)
        assert rate == upload.rate and samples.shape[0] == upload.channels
        lead = samples[:, : int(upload.pad_s[0] * rate * 0.9)]  # the padding before the word is quiet
        assert np.abs(lead).max() < 0.05 * np.abs(samples).max(), clip.name
    if upload.encoding == "pcm24":
        assert clips[0].bytes[20:22] == b"\xfe\xff"  # written as WAVE_FORMAT_EXTENSIBLE


def test_speech_is_deterministic(speech: list[spoken.OodAudio]) -> None:
    again = spoken.generate_speech(voices=SOME_VOICES[:1], uploads=spoken.UPLOADS)
    first = {c.name: c.bytes for c in speech}
    assert again and all(first[c.name] == c.bytes for c in again)


def test_speech_cache_round_trip(tmp_path: Path) -> None:
    voices, uploads = SOME_VOICES[:1], spoken.UPLOADS[-1:]
    made = spoken.synthetic_speech(tmp_path, voices=voices, uploads=uploads)
    folders = list(tmp_path.iterdir())
    assert len(folders) == 1 and (folders[0] / "manifest.json").exists()
    cached = spoken.synthetic_speech(tmp_path, voices=voices, uploads=uploads)
    assert cached == made
    # other parameters get another folder, never stale bytes
    spoken.synthetic_speech(tmp_path, voices=SOME_VOICES[1:2], uploads=uploads)
    assert len(list(tmp_path.iterdir())) == 2


def test_rendered_digits_cover_every_style_and_label(digits: list[drawn.OodImage]) -> None:
    assert 300 <= len(digits) <= 500
    assert len({d.name for d in digits}) == len(digits)
    for style in drawn.IMAGE_STYLES:
        labels = sorted(d.label for d in digits if d.style == style)
        assert set(labels) == set(range(10)), style
    assert len({d.font for d in digits}) >= 5


def test_rendered_digits_are_images_the_service_accepts(digits: list[drawn.OodImage]) -> None:
    expected_format = {"paper": "png", "canvas": "png", "inverted": "png", "photo": "jpeg"}
    for item in digits:
        assert sniff(item.bytes) == ("image", expected_format[item.style]), item.name
        prepared = prepare(item.bytes, CONFIG)
        assert prepared.tensor.shape == (1, 28, 28)
        assert torch.isfinite(prepared.tensor).all(), item.name


def test_styles_look_like_their_uploads(digits: list[drawn.OodImage]) -> None:
    by_style = {s: next(d for d in digits if d.style == s) for s in drawn.IMAGE_STYLES}
    canvas = Image.open(io.BytesIO(by_style["canvas"].bytes))
    assert canvas.mode == "RGBA" and canvas.size == (280, 280)
    rgba = np.asarray(canvas)
    assert rgba[..., 3].min() == 0 and rgba[..., 3].max() == 255  # transparent background, opaque ink
    assert rgba[..., :3].max() == 0  # black strokes; anti-aliasing lives in alpha
    photo = Image.open(io.BytesIO(by_style["photo"].bytes))
    assert photo.format == "JPEG" and photo.size == (640, 480) and photo.mode == "RGB"
    paper = np.asarray(Image.open(io.BytesIO(by_style["paper"].bytes)).convert("L"))
    assert np.median(paper) == 255 and paper.min() < 100  # dark ink on white
    inverted = np.asarray(Image.open(io.BytesIO(by_style["inverted"].bytes)))
    assert np.median(inverted) == 0 and inverted.max() == 255  # white on black


def test_rendered_digits_are_deterministic(digits: list[drawn.OodImage]) -> None:
    again = drawn.rendered_digits()
    assert [d.bytes for d in again] == [d.bytes for d in digits]


@pytest.mark.slow
def test_evaluate_ood_report_shape(
    tmp_path: Path, speech: list[spoken.OodAudio], digits: list[drawn.OodImage]
) -> None:
    """The evaluation runs end to end on a real (untrained) model and real galleries."""
    from models.encoders import DigitEncoders, load_encoders, save_checkpoint

    torch.manual_seed(0)
    save_checkpoint(DigitEncoders(CONFIG), tmp_path / "untrained.pt", {})
    encoders = load_encoders(tmp_path / "untrained.pt", "cpu")
    data_dir = ModelSettings().data_dir
    few_speech = [c for c in speech if c.group == "child"]
    few_digits = [d for d in digits if d.font == digits[0].font]
    report = evaluate_ood(encoders, data_dir, speech=few_speech, digits=few_digits)
    assert report["galleries"] == {"image": 10_000, "audio": 300}
    a2i, i2a = report["audio_to_image"], report["image_to_audio"]
    assert a2i["overall"]["n"] == len(few_speech) and i2a["overall"]["n"] == len(few_digits)
    assert set(a2i["by_upload"]) == {u.key for u in spoken.UPLOADS}
    assert set(i2a["by_style"]) == set(drawn.IMAGE_STYLES)
    assert set(a2i["by_digit"]) == {str(d) for d in range(10)}
    for section in (a2i, i2a):
        for key in ("cross_p@1", "cross_p@10", "same_p@10", "classify_acc"):
            assert 0.0 <= section["overall"][key] <= 1.0
