"""Text as a word filter should see it: the evasions undone, word boundaries kept.

A banned word is matched against whole *tokens*, never as a substring, so "assistance",
"class" and "Scunthorpe" can never hit; and no pattern is ever compiled from what a
moderator or member typed, so there is no regular-expression denial of service. What a
member does to slip past a filter is undone first:

  * accents and other combining marks are dropped ("fück", zalgo), compatibility forms
    folded (full-width letters), and a few Cyrillic and Greek letters that look Latin
    mapped to it ("а" for "a");
  * leetspeak inside a word that has letters: ``0 1 3 4 5 7 8 @ $ !`` read as
    ``o i e a s t b a s i`` ("sh1t", "@ss"), while "100" or "$25" stay numbers;
  * a letter stretched three times or more ("fuuuuck") also matches with runs collapsed,
    so "as" never matches "ass" but "asss" does;
  * three or more single letters in a row, spaced or dotted ("f r e e", "f.u.c.k"), are
    also read as one word;
  * ``*`` masks a letter ("f*ck", "sh**"): a masked token matches a word of its length
    whose visible letters agree, if at least two letters show.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b",
                      "@": "a", "$": "s", "!": "i", "|": "i", "+": "t"})
LOOKALIKES = str.maketrans({"а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x",
                            "і": "i", "ѕ": "s", "ј": "j", "к": "k", "м": "m", "т": "t", "в": "b",
                            "н": "h", "α": "a", "ο": "o", "ι": "i", "ε": "e", "κ": "k", "ν": "v",
                            "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ı": "i"})
_WORD_CHARS = frozenset("0134578@$!|+*'")  # kept inside a token (leet, masks, apostrophes)


def strip_marks(text: str) -> str:
    """Compatibility-folded, combining marks removed, lookalike letters made Latin."""
    decomposed = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).translate(LOOKALIKES)


def collapse(word: str) -> str:
    """Each run of one letter made a single letter ("fuuuck" -> "fuck", "ass" -> "as")."""
    return "".join(c for i, c in enumerate(word) if i == 0 or c != word[i - 1])


def stretched(word: str) -> bool:
    """Does the word hold a letter three or more times in a row?"""
    return any(word[i] == word[i + 1] == word[i + 2] for i in range(len(word) - 2))


def _split(text: str) -> list[str]:
    tokens, current = [], []
    for c in text:
        if c.isalnum() or c in _WORD_CHARS:
            current.append(c)
        elif current:
            tokens.append("".join(current))
            current = []
    if current:
        tokens.append("".join(current))
    return [t.strip("'!|+") or t for t in tokens]


def _decode(token: str) -> str:
    if any(c.isalpha() for c in token):
        return token.translate(LEET).replace("'", "")
    return token


@dataclass(frozen=True)
class Normalized:
    """A message's tokens after the evasions are undone (``tokens``), and the words the
    spaced-out letters spell (``joined``), both lower case."""

    tokens: tuple[str, ...]
    joined: tuple[str, ...]

    @functools.cached_property
    def plain(self) -> frozenset[str] | None:
        """The tokens as a set when none is masked or stretched (then a word matches a
        token only when equal, and a phrase can be ruled out by its first word), else None."""
        if any("*" in t or stretched(t) for t in self.tokens):
            return None
        return frozenset(self.tokens)

    def text(self) -> str:
        """The message as one normalised line (what a classifier reads)."""
        return " ".join(self.tokens + self.joined)


def normalize(text: str) -> Normalized:
    tokens = [_decode(t) for t in _split(strip_marks(text).casefold())]
    tokens = [t for t in tokens if t]
    joined, run = [], []
    for token in [*tokens, ""]:
        if len(token) == 1 and token.isalpha():
            run.append(token)
            continue
        if len(run) >= 3:
            joined.append("".join(run))
        run = []
    return Normalized(tuple(tokens), tuple(joined))


def token_matches(token: str, word: str) -> bool:
    """Does one message token spell ``word`` (a normalised banned word)?"""
    if token == word:
        return True
    if "*" in token:
        shown = sum(c != "*" for c in token)
        return (len(token) == len(word) and shown >= 2
                and all(t == "*" or t == w for t, w in zip(token, word)))
    return stretched(token) and collapse(token) == collapse(word)


def contains(message: Normalized, phrase: tuple[str, ...]) -> bool:
    """Does the message hold the phrase's words in a row (a one-word phrase anywhere)?"""
    if len(phrase) == 1 and any(token_matches(t, phrase[0]) for t in message.joined):
        return True
    plain = message.plain
    if plain is not None and not all(word in plain for word in phrase):
        return False  # the common case: one set lookup per word, not a scan per phrase
    tokens, n = message.tokens, len(phrase)
    return any(all(token_matches(tokens[i + k], phrase[k]) for k in range(n))
               for i in range(len(tokens) - n + 1))


def phrase_of(text: str) -> tuple[str, ...]:
    """A moderator's banned word or phrase, normalised the way messages are."""
    return normalize(text).tokens
