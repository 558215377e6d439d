"""More synthetic speakers, from Festival (Debian `festival` and its `festvox-*` voices): a US
man whose pitch can be set (deep to a child's), a US woman, and three voices of other languages
- a Czech child, a Czech woman and an Italian woman - reading the digit words spelt the way their
language would say them (an accent, but women's and a child's vocal tracts, which FSDD's six men
and speed perturbation cannot give).

Three more voices are never trained on: a second US man at the same five pitches and two women
(Finnish, Catalan). They are the held-out voices of model selection (`python -m training.train
--selection-voices festival`), so a recipe that trades unseen voices away shows before the
report does. Both are options of training (training.training_voices), not the committed recipe.
espeak-ng stays the out-of-distribution report's own voice family (training.ood.speech).
"""

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from models.data import DIGIT_WORDS
from training.tts_speakers import PITCHES_HZ, TtsUnavailableError

CZECH = ("zíróu", "uan", "tů", "srí", "fór", "fajv", "siks", "sevn", "ejt", "najn")
ITALIAN = ("ziro", "uan", "tu", "tri", "for", "faiv", "sics", "seven", "eit", "nain")
FINNISH = ("siirou", "uan", "tuu", "trii", "foor", "faiv", "siks", "seven", "eit", "nain")
CATALAN = ("ziro", "uan", "tu", "tri", "for", "faiv", "sics", "seven", "eit", "nain")


@dataclass(frozen=True)
class FestivalVoice:
    name: str  # festival's (voice_<name>)
    package: str  # the Debian package that ships it
    words: tuple[str, ...]  # the ten digit words as this voice should read them
    encoding: str = "utf-8"  # what its text front end reads (the Czech voices: ISO 8859-2)
    sets_pitch: bool = False  # its intonation follows int_lr_params (target F0 mean)


TRAINING_VOICES = (
    FestivalVoice("kal_diphone", "festvox-kallpc16k", DIGIT_WORDS, sets_pitch=True),
    FestivalVoice("cmu_us_slt_arctic_hts", "festvox-us-slt-hts", DIGIT_WORDS),
    FestivalVoice("czech_krb", "festvox-czech-krb", CZECH, encoding="iso-8859-2"),
    FestivalVoice("czech_dita", "festvox-czech-dita", CZECH, encoding="iso-8859-2"),
    FestivalVoice("lp_diphone", "festvox-italp16k", ITALIAN),
)
SELECTION_VOICES = (
    FestivalVoice("ked_diphone", "festvox-kdlpc16k", DIGIT_WORDS, sets_pitch=True),
    FestivalVoice("suo_fi_lj_diphone", "festvox-suopuhe-lj", FINNISH),
    FestivalVoice("upc_ca_ona_hts", "festvox-ca-ona-hts", CATALAN),
)
# Duration_Stretch. Voices with a pitch setting vary it over PITCHES_HZ at three rates; the
# others, one pitch each, get more rates instead.
PITCHED_RATES = (0.8, 1.0, 1.25)
UNPITCHED_RATES = (0.7, 0.8, 0.9, 1.0, 1.12, 1.25)
SELECTION_RATES = (0.85, 1.0, 1.2)


def _variants(voice: FestivalVoice, rates: tuple[float, ...]) -> list[tuple[int | None, float]]:
    pitches: tuple[int | None, ...] = PITCHES_HZ if voice.sets_pitch else (None,)
    return [(pitch, rate) for pitch in pitches for rate in rates]


def _settings(pitch: int | None, rate: float) -> str:
    """Scheme run after the voice is chosen: speaking rate, and the target pitch where it applies."""
    code = f"(Parameter.set 'Duration_Stretch {rate})"
    if pitch is not None:
        code += (
            f" (set! int_lr_params '((target_f0_mean {pitch}) (target_f0_std {pitch // 6})"
            " (model_f0_mean 170) (model_f0_std 34)))"
        )
    return f"(begin {code})"


def festival_clips(cache_dir: Path, voices=TRAINING_VOICES, rates=None) -> list[tuple[Path, int]]:
    """(WAV path, digit) for every voice x pitch x rate x digit, synthesised once into the cache.
    `rates` None: each voice's own (PITCHED_RATES or UNPITCHED_RATES)."""
    text2wave = shutil.which("text2wave")
    if text2wave is None:
        packages = " ".join(["festival", *(voice.package for voice in voices)])
        raise TtsUnavailableError(f"festival is not installed (Debian: apt-get install {packages})")
    version = subprocess.run(["festival", "--version"], capture_output=True, text=True, check=False).stdout
    clips = []
    for voice in voices:
        voice_rates = rates or (PITCHED_RATES if voice.sets_pitch else UNPITCHED_RATES)
        key = hashlib.sha256(f"{version}{voice}{voice_rates}{PITCHES_HZ}".encode()).hexdigest()[:12]
        folder = cache_dir / f"festival-{voice.name}-{key}"
        folder.mkdir(parents=True, exist_ok=True)
        for pitch, rate in _variants(voice, voice_rates):
            for label, word in enumerate(voice.words):
                path = folder / f"{label}_festival-{voice.name}-f{pitch or 0}-r{rate:g}.wav"
                if not path.exists():
                    _synthesise(text2wave, voice, word, pitch, rate, path)
                clips.append((path, label))
    return clips


def _synthesise(text2wave: str, voice: FestivalVoice, word: str, pitch: int | None, rate: float, path: Path):
    text = path.with_suffix(".txt")
    text.write_bytes(word.encode(voice.encoding))
    partial = path.with_suffix(".part")
    scheme = ["-eval", f"(voice_{voice.name})", "-eval", _settings(pitch, rate)]
    subprocess.run(
        [text2wave, *scheme, str(text), "-o", str(partial)], check=True, capture_output=True, timeout=60
    )
    text.unlink()
    if not partial.exists() or partial.stat().st_size < 1000:  # festival's answer to a missing voice
        raise TtsUnavailableError(
            f"festival made no audio with voice {voice.name} (apt-get install {voice.package})"
        )
    partial.rename(path)
