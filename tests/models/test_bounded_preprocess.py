"""Preprocessing whose cost the content cannot raise: every picture is worked on at a bounded
size, the background flattening costs O(pixels) whatever its kernel, float WAVs of any
magnitude are read, and a CPU budget stops an upload that needs more."""

import io

import numpy as np
import pytest
import torch
from PIL import Image
from torch.nn import functional as F

from models import image_preprocess
from models.audio_preprocess import audio_bytes_to_tensor
from models.cpu_budget import TooComplexError, check_budget, cpu_budget
from models.encoder_config import AudioParams, ImageParams
from models.image_preprocess import decode_image, digit_from_bytes
from models.media_errors import CorruptMediaError
from models.wav import write_wav
from tests.hostile import costly


def pooled_top_hat(grey: np.ndarray, k: int) -> np.ndarray:
    """The top-hat as torch pooling computes it (cost pixels x k^2): the reference."""
    t = torch.from_numpy(grey)[None, None]
    opened = F.max_pool2d(-F.max_pool2d(-t, k, 1, k // 2), k, 1, k // 2)
    background = F.avg_pool2d(opened, k, 1, k // 2, count_include_pad=False)
    return (t - background).clamp(min=0.0)[0, 0].numpy()


@pytest.mark.parametrize(("h", "w", "k"), [(64, 64, 7), (100, 80, 11), (300, 200, 31), (160, 120, 39)])
def test_background_flattening_equals_the_pooling_reference(
    monkeypatch: pytest.MonkeyPatch, h: int, w: int, k: int
) -> None:
    rng = np.random.default_rng(h * w + k)
    grey = rng.random((h, w)).astype(np.float32)
    grey[0, :] = np.linspace(0, 1, w)  # an uneven border, so the flattening runs
    monkeypatch.setattr(image_preprocess, "_stroke_width", lambda _: k / 2.5)
    expected_k = min(max(3, min(h, w) // 10, k), min(h, w) // 3) | 1
    flattened = image_preprocess._flatten_background(grey)
    np.testing.assert_allclose(flattened, pooled_top_hat(grey, expected_k), atol=1e-6)


def test_strokes_too_fat_for_the_kernel_cap_are_left_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 64 px upscale of an 8x8 thumbnail: 10 px strokes want a 25 px kernel, the cap allows 21,
    and a capped kernel would hollow them (249 of 400 such OOD pictures lost a point of top-5)."""
    grey = np.random.default_rng(0).random((64, 64)).astype(np.float32)
    grey[0, :] = np.linspace(0, 1, 64)  # an uneven border
    monkeypatch.setattr(image_preprocess, "_stroke_width", lambda _: 10.0)
    assert image_preprocess._flatten_background(grey) is grey


def test_a_ramp_passing_for_ink_still_gets_the_capped_kernel(monkeypatch: pytest.MonkeyPatch) -> None:
    grey = np.random.default_rng(1).random((96, 96)).astype(np.float32)
    grey[0, :] = np.linspace(0, 1, 96)
    monkeypatch.setattr(image_preprocess, "_stroke_width", lambda _: 40.0)  # wider than a third: a ramp
    flattened = image_preprocess._flatten_background(grey)
    np.testing.assert_allclose(flattened, pooled_top_hat(grey, 96 // 3 | 1), atol=1e-6)


@pytest.mark.parametrize(
    "data",
    [
        costly.gradient_16bit_png(3000, 2000),
        costly.gradient_float_tiff(1500, 1500),
        costly.gradient_int32_tiff(1500, 1500),
        costly.stroke_on_gradient(1024),
        costly.bilevel_png(2000, 2000),
    ],
    ids=["16-bit", "float", "int32", "8-bit", "bilevel"],
)
def test_every_picture_is_worked_on_at_most_at_the_work_size(data: bytes) -> None:
    fmt = "tiff" if data.startswith(b"II*") else "png"
    grey = image_preprocess._to_grey(decode_image(data, fmt, ImageParams()))
    assert max(grey.shape) <= image_preprocess._WORK_SIZE
    assert grey.dtype == np.float32 and 0.0 <= grey.min() and grey.max() <= 1.0


def test_a_float_picture_holding_nan_is_refused() -> None:
    pixels = np.ones((40, 40), np.float32)
    pixels[3, 3] = np.nan
    buffer = io.BytesIO()
    Image.fromarray(pixels, mode="F").save(buffer, format="TIFF")
    with pytest.raises(CorruptMediaError) as caught:
        digit_from_bytes(buffer.getvalue(), "tiff", ImageParams())
    assert caught.value.code == "invalid_image"


def test_a_float_wav_near_the_float_limit_reads_as_the_same_word_scaled() -> None:
    params = AudioParams()
    loud = audio_bytes_to_tensor(costly.extreme_float_wav(3e38), params)
    word = costly.spoken_word(8000)
    at_full_scale = audio_bytes_to_tensor(
        write_wav(word[None, :] / np.abs(word).max(), 8000, 32, "float"), params
    )
    assert loud.dtype == at_full_scale.dtype == np.float32 and np.isfinite(loud).all()
    np.testing.assert_allclose(loud, at_full_scale, atol=2e-3, rtol=0.0)  # float32 rounding


def test_the_cpu_budget_stops_preprocessing_once_spent() -> None:
    data = costly.stroke_on_gradient(1024)
    with cpu_budget(0.0), pytest.raises(TooComplexError) as caught:
        digit_from_bytes(data, "png", ImageParams())
    assert caught.value.code == "too_complex" and "decode" in caught.value.message
    with cpu_budget(60.0):
        assert digit_from_bytes(data, "png", ImageParams()).shape == (28, 28)
    check_budget("outside any budget: never fires")
