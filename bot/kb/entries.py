"""What a knowledge base holds, and how an import reports what is wrong with a file.

An ``Entry`` is one thing the bot may state as fact: a product, an FAQ answer, or the
shop's "about" text. Importers build entries from files; ``bot.kb.store`` keeps them per
guild. Entries compare by content only (not by the line they came from), which is what
makes a second import of the same file report every entry unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PRODUCT, FAQ, ABOUT = "product", "faq", "about"
KINDS = (PRODUCT, FAQ, ABOUT)
ABOUT_KEY = "about"

MAX_FIELD_CHARS = 20_000  # a policy page is a few thousand; more is a wrong column or file
MAX_SHOWN_PROBLEMS = 20   # the rest are counted: the operator fixes the pattern, not each row


class KBError(Exception):
    """A knowledge-base problem an operator can fix, explained in one line."""


@dataclass(frozen=True)
class Entry:
    kind: str
    key: str
    title: str
    body: str = ""
    category: str | None = None
    price: str | None = None
    price_cents: int | None = None
    currency: str | None = None
    in_stock: bool | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    url: str | None = None
    line: int = field(default=0, compare=False)  # where the file defines it, for errors


@dataclass(frozen=True)
class Document:
    """A parsed file: its entries, and the kinds it speaks for (what ``replace`` may remove:
    a catalog speaks for products, an FAQ file for FAQ entries and, if it has one, the about
    entry)."""

    name: str
    kinds: frozenset[str]
    entries: list[Entry]


def faq_key(question: str) -> str:
    """The import key of an FAQ entry: the question without case, spacing or a final '?',
    so fixing a typo in capitalisation updates the entry instead of adding a twin."""
    return " ".join(question.split()).lower().rstrip("? ")


class Problems:
    """Collects every bad row of a file, so one import run reports all of them."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._found: list[tuple[int, str]] = []

    def __len__(self) -> int:
        return len(self._found)

    def add(self, line: int, message: str) -> None:
        self._found.append((line, message))

    def text(self, line: int, column: str, value: str) -> str:
        """``value`` stripped, or a problem recorded when it is longer than the cap."""
        value = value.strip()
        if len(value) > MAX_FIELD_CHARS:
            self.add(line, f"{column} is {len(value):,} characters; the limit is {MAX_FIELD_CHARS:,}")
        return value

    def raise_if_any(self) -> None:
        if not self._found:
            return
        found = sorted(self._found, key=lambda problem: problem[0])  # checks run in passes
        shown = "; ".join(f"line {line}: {message}" for line, message in found[:MAX_SHOWN_PROBLEMS])
        more = len(self._found) - MAX_SHOWN_PROBLEMS
        rows = f"{len(self._found)} problem{'s' if len(self._found) != 1 else ''}"
        raise KBError(f"{self.name}: {rows}, nothing imported: {shown}"
                      + (f"; and {more} more" if more > 0 else ""))


def no_duplicates(entries: list[Entry], problems: Problems, what: str) -> None:
    """One entry per key in a file: a second row with the same key would silently win."""
    first: dict[tuple[str, str], int] = {}
    for entry in entries:
        seen = first.setdefault((entry.kind, entry.key), entry.line)
        if seen != entry.line:
            problems.add(entry.line, f"{what} {entry.key!r} is already defined on line {seen}")
