"""Typed digits: a numeral or a digit's name in one of several languages -> the digit.

Matching ignores case, accents and surrounding whitespace ("Zéro", " ZERO ", "tres" and
"três" all match). Each language lists its ten names in order, 0 to 9; VARIANTS adds the
other spellings people use (gendered forms, the counting form of one, "zwo").
"""

import unicodedata

MAX_QUERY_CHARS = 32  # the longest name is 6 letters: anything this long is not a digit

LANGUAGES: dict[str, tuple[str, ...]] = {
    "en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
    "de": ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"),
    "fr": ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf"),
    "es": ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve"),
    "it": ("zero", "uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove"),
    "pt": ("zero", "um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove"),
    "nl": ("nul", "een", "twee", "drie", "vier", "vijf", "zes", "zeven", "acht", "negen"),
}

# Other spellings of a digit, by language: the words that stand for the same digit too.
VARIANTS: dict[str, dict[str, int]] = {
    "en": {"oh": 0, "nought": 0, "naught": 0},
    "de": {"ein": 1, "eine": 1, "zwo": 2, "funf": 5, "fuenf": 5},
    "fr": {"une": 1},
    "es": {"una": 1},
    "it": {"una": 1},
    "pt": {"uma": 1, "duas": 2},
    "nl": {"één": 1},
}


def normalise(text: str) -> str:
    """Casefolded, accents dropped, surrounding whitespace removed: 'Zéro ' -> 'zero'."""
    decomposed = unicodedata.normalize("NFKD", text.strip())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _build() -> dict[str, int]:
    words: dict[str, int] = {str(d): d for d in range(10)}
    spellings = [(w, d) for names in LANGUAGES.values() for d, w in enumerate(names)]
    spellings += [(w, d) for table in VARIANTS.values() for w, d in table.items()]
    for word, digit in spellings:
        key = normalise(word)
        if words.setdefault(key, digit) != digit:
            raise ValueError(f"{word!r} would mean both {words[key]} and {digit}")
    return words


WORDS: dict[str, int] = _build()
EXAMPLES = "7, seven, sieben, sept, siete, sette, sete, zeven"


def digit_of(text: str) -> int | None:
    """The digit `text` names, or None when it names none."""
    return WORDS.get(normalise(text))
