"""The table of typed digits: every language's ten names, case, accents and whitespace."""

import pytest

from service.search.digit_words import LANGUAGES, MAX_QUERY_CHARS, VARIANTS, WORDS, digit_of, normalise


def test_each_language_names_ten_digits_in_order() -> None:
    assert set(LANGUAGES) >= {"en", "de", "fr", "es", "it", "pt", "nl"}
    for names in LANGUAGES.values():
        assert len(names) == 10
        assert [digit_of(n) for n in names] == list(range(10))
    for table in VARIANTS.values():
        assert all(digit_of(word) == digit for word, digit in table.items())


@pytest.mark.parametrize(
    ("text", "digit"),
    [
        ("7", 7),
        (" 0 ", 0),
        ("Sieben", 7),
        ("SEPT", 7),
        ("zéro", 0),
        ("ZERO", 0),
        ("Zéro", 0),
        ("tres", 3),
        ("três", 3),
        ("TRÊS", 3),
        ("fünf", 5),
        ("funf", 5),
        ("FÜNF", 5),
        ("\tzwo\n", 2),
        ("duas", 2),
        ("um", 1),
        ("uma", 1),
        ("une", 1),
        ("una", 1),
        ("ein", 1),
        ("een", 1),
        ("één", 1),
        ("nul", 0),
        ("null", 0),
        ("cero", 0),
        ("negen", 9),
    ],
)
def test_case_accents_and_whitespace_are_ignored(text: str, digit: int) -> None:
    assert digit_of(text) == digit


@pytest.mark.parametrize("text", ["", "   ", "seventeen", "10", "7 8", "sie ben", "x", "siebenn", "-1"])
def test_anything_else_names_no_digit(text: str) -> None:
    assert digit_of(text) is None


def test_normalised_keys_are_short_and_plain() -> None:
    assert normalise("  Zéro ") == "zero"
    for word in WORDS:
        assert word == normalise(word) and 0 < len(word) <= MAX_QUERY_CHARS
