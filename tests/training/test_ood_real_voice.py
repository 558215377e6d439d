"""The OOD report's real voice: Asterisk's recordings of the ten digits, decoded from G.722."""

from pathlib import Path

import numpy as np
import pytest

from training.ood.real_voice import PACKAGE, RealVoiceUnavailableError, allison_words


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
