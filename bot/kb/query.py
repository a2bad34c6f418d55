"""Member text into an FTS5 MATCH expression that cannot be anything but a list of words.

FTS5 reads its own query language in MATCH (``NEAR``, ``*``, ``-``, ``^``, ``col:``,
parentheses, quotes), so text typed by a member never goes in raw: it is cut into words
the way the ``unicode61`` tokenizer cuts text (runs of letters and digits), and each word
becomes a quoted string, joined by ``OR``. Any word may then match and bm25 ranks entries
by how many of the rarer words they hold; the porter tokenizer stems each quoted word just
as it stemmed the indexed text, so "shipped" finds "shipping".

Stop words are dropped because a question's function words ("how do I", "can you") occur
in nearly every FAQ question and would add the same small score everywhere, pushing aside
entries that hold only the content words (measured on 63 member-style questions: the
right entry first for 0.75 of them, 0.70 without the list; in the top 3 for 0.87, 0.90
without it, so the list trades a little recall for precision at the top, which is what an
answer citing its best entry needs). The list is plain English grammar, not any shop's
vocabulary; "no", "not" and size letters ("M", "S") are kept on purpose. Text with no
content word ("how are you?") searches for nothing.
"""

from __future__ import annotations

import re

MAX_TERMS = 32  # a 2,000-character message is ~300 words; the first content words carry it

_WORD = re.compile(r"[^\W_]+")

STOP_WORDS = frozenset("""
a about am an and any are as at be been but by can could did do does doing for from had has
have hello hey hi how i if im in into is it its just ll me my of on or our please re should
so some t than that the their them then there these they this those to us ve was we were
what when where which who why will with would you your
""".split())  # "ll", "re", "ve", "t": what is left of "you'll", "don't" and the like


def words(text: str) -> list[str]:
    """The distinct content words of ``text``, lower-cased, in order, at most MAX_TERMS."""
    seen: dict[str, None] = {}
    for word in _WORD.findall(text.casefold()):
        if word not in STOP_WORDS:
            seen.setdefault(word, None)
            if len(seen) == MAX_TERMS:
                break
    return list(seen)


def match_expression(text: str) -> str | None:
    """The MATCH expression for ``text``; None when it has no content word to look for."""
    terms = words(text)
    if not terms:
        return None
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)
