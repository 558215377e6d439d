"""The OOD generator makes real upload bytes the service accepts, deterministically.

No accuracy thresholds here: the OOD numbers are reported in the model card.
"""

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.encoder_config import EncoderConfig
from models.preprocess import prepare, sniff
from models.runtime import load_encoders
from models.settings import DEFAULT_CHECKPOINT, ModelSettings
from models.wav import read_wav
from tests.full_set import EmbeddingMemo
from training.ood import low_res
from training.ood import recording_conditions as conditions
from training.ood import rendered_digits as drawn
from training.ood import speech as spoken
from training.ood.report import evaluate_ood

CONFIG = EncoderConfig()
# one voice per group keeps generation quick; every upload format is still covered
SOME_VOICES = tuple({v.group: v for v in spoken.VOICES}.values())


@pytest.fixture(scope="module")
def speech() -> list[spoken.OodAudio]:
    return spoken.generate_speech(voices=SOME_VOICES)


@pytest.fixture(scope="module")
def digits() -> list[drawn.OodImage]:
    return drawn.rendered_digits()


@pytest.fixture(scope="module")
def condition_clips() -> list[spoken.OodAudio]:
    """A small recording-condition set: one voice and 10 FSDD takes under every condition."""
    return conditions.condition_speech(ModelSettings().data_dir, voices=SOME_VOICES[:1], fsdd_limit=10)


@pytest.fixture(scope="module")
def low_res_images() -> list[drawn.OodImage]:
    return low_res.low_res_digits(ModelSettings().data_dir, per_digit=1, fonts=drawn.installed_fonts()[:2])


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
    # Generator 2: enough voices that a recording condition (every voice x every word) has 300+
    # clips, about +-2.5 points at 0.95; the whole voice set stays a few minutes' work
    assert len(spoken.VOICES) * len(spoken.DIGIT_WORDS) >= 300
    total = len(spoken.VOICES) * len(spoken.UPLOADS) * len(spoken.DIGIT_WORDS)
    assert 1_000 <= total <= 2_000
    # women's and children's voices are most of them, not only men's
    groups = [v.group for v in spoken.VOICES]
    assert {"female", "child", "klatt", "male"} == set(groups)
    assert groups.count("female") + groups.count("child") >= 0.75 * len(groups)
    assert len({v.key for v in spoken.VOICES}) == len(spoken.VOICES)


def test_speech_clips_are_wavs_the_service_accepts(speech: list[spoken.OodAudio]) -> None:
    assert len(speech) == len(SOME_VOICES) * len(spoken.UPLOADS) * 10
    assert len({c.name for c in speech}) == len(speech)
    for clip in speech:
        assert sniff(clip.bytes) == ("audio", "wav"), clip.name
        prepared = prepare(clip.bytes, CONFIG)
        assert prepared.modality == "audio"
        assert prepared.tensor.shape == (1, CONFIG.audio.n_mels, CONFIG.audio.frames)
        assert np.isfinite(prepared.tensor).all(), clip.name


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
        assert np.isfinite(prepared.tensor).all(), item.name


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


def test_condition_clips_cover_every_condition_source_and_label(
    condition_clips: list[spoken.OodAudio],
) -> None:
    assert len({c.name for c in condition_clips}) == len(condition_clips)
    for condition in conditions.AUDIO_CONDITIONS:
        for source in conditions.SOURCES:
            clips = [c for c in condition_clips if c.style == condition and c.group == source]
            assert sorted({c.label for c in clips}) == list(range(10)), (condition, source)
    for clip in condition_clips:
        prepared = prepare(clip.bytes, CONFIG)
        assert prepared.tensor.shape == (1, CONFIG.audio.n_mels, CONFIG.audio.frames), clip.name
        assert np.isfinite(prepared.tensor).all(), clip.name


@pytest.mark.parametrize(
    ("condition", "layout"),
    [
        ("long_silence_44k1_stereo", (1, 2, 44_100, 16)),
        ("long_silence_48k_stereo", (3, 2, 48_000, 32)),
        ("held_take_44k1_stereo", (1, 2, 44_100, 16)),
        ("held_take_48k_mono", (1, 1, 48_000, 16)),
        ("laptop_8k_1s", (1, 1, 8_000, 16)),
        ("reference", (1, 1, 16_000, 16)),
    ],
)
def test_condition_clips_are_recorded_as_described(
    condition_clips: list[spoken.OodAudio], condition: str, layout: tuple[int, int, int, int]
) -> None:
    clips = [c for c in condition_clips if c.style == condition]
    assert clips
    if condition.startswith("held_take"):  # most takes carry the button's clicks, many a breath
        assert sum("click" in c.description for c in clips) > 0.6 * len(clips)
        assert sum("breath" in c.description for c in clips) > 0.3 * len(clips)
    for clip in clips:
        assert _fmt_chunk(clip.bytes) == layout, clip.name
        samples, rate = read_wav(clip.bytes, 4_000, 192_000, 10.0)
        seconds = samples.shape[1] / rate
        if condition.startswith("long_silence"):
            assert 1.5 <= seconds <= 2.8, clip.name  # a long take around a short word
            lead = samples[:, : int(0.15 * rate)]  # before the word: a noise floor, not digital silence
            floor_db = 20 * np.log10(np.sqrt(np.mean(lead.astype(np.float64) ** 2)))
            peak_db = 20 * np.log10(np.abs(samples).max())
            assert 30.0 < peak_db - floor_db < 50.0, clip.name
        if condition.startswith("held_take"):
            assert 0.6 + 0.1 < seconds < 4.0 + 2.5, clip.name  # 0.3-2 s each side of the word
        if condition == "laptop_8k_1s":
            assert samples.shape[1] == rate  # the fixed 1.0 s window
            spectrum = np.abs(np.fft.rfft(samples[0])) ** 2
            freqs = np.fft.rfftfreq(samples.shape[1], 1 / rate)
            assert spectrum[freqs > 3_600].sum() < 0.05 * spectrum.sum(), clip.name  # band-limited


def test_condition_clips_are_deterministic(condition_clips: list[spoken.OodAudio]) -> None:
    again = conditions.condition_speech(ModelSettings().data_dir, voices=SOME_VOICES[:1], fsdd_limit=10)
    assert [c.bytes for c in again] == [c.bytes for c in condition_clips]


def test_low_res_images_are_what_they_say(low_res_images: list[drawn.OodImage]) -> None:
    sizes = {"reference": 28, "thumb_8x8": 8, "smooth_64x64_from_8x8": 64, "smooth_64x64_from_16x16": 64}
    sizes |= {"blocky_112x112_from_8x8": 112, "blocky_112x112_from_14x14": 112}
    assert set(sizes) == set(low_res.IMAGE_CONDITIONS)
    assert {d.font for d in low_res_images} == {"mnist", "fonts"}
    for item in low_res_images:
        image = Image.open(io.BytesIO(item.bytes))
        assert image.format == "PNG" and image.size == (sizes[item.style],) * 2, item.name
        pixels = np.asarray(image.convert("L"))
        border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
        assert np.median(border) > 200 and pixels.min() < 128, item.name  # dark ink on light
        if item.style.startswith("blocky"):  # an exact nearest-neighbour upscale: constant blocks
            block = 112 // int(item.style.split("_from_")[1].split("x")[0])
            assert (pixels == np.kron(pixels[::block, ::block], np.ones((block, block)))).all(), item.name
        assert prepare(item.bytes, CONFIG).tensor.shape == (1, 28, 28), item.name
    for condition in low_res.IMAGE_CONDITIONS:
        assert sorted({d.label for d in low_res_images if d.style == condition}) == list(range(10))


def test_low_res_images_are_deterministic(low_res_images: list[drawn.OodImage]) -> None:
    again = low_res.low_res_digits(ModelSettings().data_dir, per_digit=1, fonts=drawn.installed_fonts()[:2])
    assert [d.bytes for d in again] == [d.bytes for d in low_res_images]


@pytest.mark.slow
def test_evaluate_ood_report_shape(
    remembered_embeddings: EmbeddingMemo,
    speech: list[spoken.OodAudio],
    digits: list[drawn.OodImage],
    condition_clips: list[spoken.OodAudio],
    low_res_images: list[drawn.OodImage],
) -> None:
    """The evaluation runs end to end on a real model (the committed one) and real galleries:
    the validation set embedded as training.evaluate does, the session's embeddings
    (tests/conftest.py `remembered_embeddings`; the model card's metrics use the same)."""
    encoders = load_encoders(DEFAULT_CHECKPOINT, "cpu")
    data_dir = ModelSettings().data_dir
    few_speech = [c for c in speech if c.group == "child"]
    few_digits = [d for d in digits if d.font == digits[0].font]
    report = evaluate_ood(
        encoders,
        data_dir,
        speech=few_speech,
        digits=few_digits,
        condition_audio=condition_clips,
        condition_images=low_res_images,
    )
    assert report["galleries"] == {"image": 10_000, "audio": 300}
    a2i, i2a = report["audio_to_image"], report["image_to_audio"]
    assert a2i["overall"]["n"] == len(few_speech) and i2a["overall"]["n"] == len(few_digits)
    assert set(a2i["by_upload"]) == {u.key for u in spoken.UPLOADS}
    assert set(i2a["by_style"]) == set(drawn.IMAGE_STYLES)
    assert set(a2i["by_digit"]) == {str(d) for d in range(10)}
    for section in (a2i, i2a):
        for key in ("cross_p@1", "cross_p@10", "same_p@10", "classify_acc"):
            assert 0.0 <= section["overall"][key] <= 1.0
        assert "cross_p@5" not in section["overall"]  # the original sets keep their fields
    by_condition = report["conditions"]
    assert set(by_condition["audio_to_image"]) == set(conditions.AUDIO_CONDITIONS)
    assert set(by_condition["image_to_audio"]) == set(low_res.IMAGE_CONDITIONS)
    for name, section in by_condition["audio_to_image"].items():
        assert set(section["by_source"]) == set(conditions.SOURCES), name
        assert set(section["trimmed_seconds_median"]) == set(conditions.SOURCES), name
    for section in (*by_condition["audio_to_image"].values(), *by_condition["image_to_audio"].values()):
        for key in ("cross_p@1", "cross_p@5", "cross_p@10", "classify_acc"):
            assert 0.0 <= section["overall"][key] <= 1.0


def test_a_word_longer_than_the_laptop_window_is_cut_not_refused() -> None:
    """The 1 s window takes what fits of a slow 1.6 s word (a Festival voice at rate 0.7 says one)."""
    rate = 16_000
    t = np.arange(int(1.6 * rate)) / rate
    word = (0.5 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    (clip,) = conditions.render_conditions([("slow_word", 3, word, rate)], "test", ["laptop_8k_1s"])
    samples, clip_rate = read_wav(clip.bytes, 4_000, 192_000, 10.0)
    assert clip_rate == 8_000 and samples.shape[1] == 8_000
    assert np.abs(samples).max() > 0.1  # the window holds the word, not only the fan
