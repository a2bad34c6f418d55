"""Questions about a thing the shop's entries are not about.

An entry can cover most of a question's words and still miss the one thing asked about:
"is there parking near the studio" and the studio's hours, "is afterpay available at
checkout" and the shipping costs, "who's the founder of Juniper & Pine" and the shop's
"about" entry. English questions about whether something exists, is accepted or is done
name that thing in a few set ways, so it can be read off the question:

  * "is there (a|any) X", "do you have / take / accept / do X", "can I pay with X",
    "is X available / accepted / an option", "available in / as X", "does it come with
    X": X;
  * "who is the X", "who X-ed / owns / runs ...": X;
  * "what's the X of ...", "is it safe for / while X", "will it help my X", "how much is
    X": X;
  * "are you X-ing": X;
  * a choice "X or Y" between two single words.

When *none* of the thing's words is known to the shop (no entry holds it or a synonym,
dictionary form or likely typo of it), the shop has said nothing about it and the answer
is the decline. One known word is enough to let the score decide ("is there a free
shipping threshold" shares "shipping"), so a member's own wording for a thing the shop
does mention is not refused.

"Do you sell / carry / offer / make X" is stricter (``not_offered``): the chosen entries
must be *about* X, not only mention it. And "what X" asked of a product is not answered
by it when X is an attribute other products list and it lacks (``missing_attribute``).
"""

from __future__ import annotations

import re
from collections.abc import Container, Sequence

from bot.grounding.retrieval import UNKNOWN_GRAM, Hit, Term, entry_keys
from bot.kb import PRODUCT
from bot.kb.terms import is_cjk, query_terms

_A = r"(?:(?:a|an|any|some|the)\s+)?"
_YOU = r"(?:you|u|ya|yall|y'all)(?:\s+guys)?"
_ASKS = [re.compile(p, re.IGNORECASE) for p in (
    rf"\b(?:is|are)\s+there\s+{_A}(?P<thing>[^?.!,;]*)",
    rf"\b(?:do|can|will)\s+{_YOU}\s+(?:have|take|accept|do|allow)\s+{_A}(?P<thing>[^?.!,;]*)",
    rf"\bpay\s+(?:with|by|via|using|through|in)\s+{_A}(?P<thing>[^?.!,;]*)",
    r"\b(?:is|are)\s+(?P<thing>[\w'-]+(?:\s+[\w'-]+)?)\s+(?:available|accepted|an option|offered|"
    r"supported|a thing)\b",
    r"\bwho(?:'?s|\s+is|\s+are)\s+(?:the\s+)?(?P<thing>[\w'-]+)",
    r"\bwho\s+(?:actually\s+|really\s+)?(?P<thing>\w+ed|owns|runs)\b",  # not "who pays"
    r"\bwhat(?:'?s|\s+is|\s+are)\s+(?:the\s+)?(?P<thing>[\w'-]+)\s+(?:of|in|on|for)\b",
    rf"\b(?:safe|ok|okay|suitable|fine)\s+(?:to\s+use\s+)?(?:for|with|while|during|around|near|on)\s+"
    rf"{_A}(?:my|your|ur|a|an)?\s*(?P<thing>[^?.!,;]*)",
    r"\bhelps?\s+(?:with\s+)?(?:my|your|ur)\s+(?P<thing>[^?.!,;]*)",
    rf"\bhow\s+much\s+(?:is|are|does|do|for)\s+{_A}(?P<thing>[^?.!,;]*)",
    rf"\b(?:come|comes|ship|ships)\s+with\s+{_A}(?P<thing>[^?.!,;]*)",
    rf"\bavailable\s+(?:in|as)\s+{_A}(?P<thing>[^?.!,;]*)",
    rf"\bare\s+{_YOU}\s+(?P<thing>\w+ing)\b",
)]
_WHAT = re.compile(r"\b(?:what|which|how many)\s+([^\W\d_]+)", re.IGNORECASE)
_CHOICE = re.compile(r"\b(?P<a>[^\W\d_]{3,})\s+or\s+(?P<b>[^\W\d_]{3,})\b", re.IGNORECASE)
_THING_END = re.compile(r"\b(?:if|for|like|that|which|to|in|on|at|or|and|with|when|so|because|i|my|"
                        r"near|from|of|after|before|during|this|these|where|yet)\b", re.IGNORECASE)
# Words that name a kind of help rather than a thing ("do you have any tips on washing").
GENERIC = frozenset("""
tip tips advice info information detail details idea ideas recommendation recommendations
suggestion suggestions help way ways option options kind kinds sort sorts type types chance
problem problems issue issues difference reason reasons update updates news question questions
""".split())

# "Do you sell X" (有卖X吗, 卖不卖X): not "have" or "do", which ask for advice as often as
# stock.
_OFFER_ASKS = [re.compile(p, re.IGNORECASE) for p in (
    rf"\b(?:do|can)\s+{_YOU}\s+(?:sell|carry|stock|offer|make)\s+(?P<thing>[^?.!,;]*)",
    r"(?:有没有|有)卖(?P<thing>[\u4e00-\u9fff]+?)(?:吗|么|嘛|呀|啊|的|[？?，,。]|$)",
    r"卖不卖(?P<thing>[\u4e00-\u9fff]+?)(?:呀|啊|的|[？?，,。]|$)",
)]


def _thing(text: str) -> set[str]:
    return set(query_terms(_THING_END.split(text, 1)[0])) - GENERIC


def unknown_thing(question: str, terms: Sequence[Term], known: Container[str]) -> bool:
    """Does the question ask whether a thing exists, is accepted or is done, when the shop
    never mentions any of its words? (``known``: the shop's stems.)"""
    by_text = {t.text: t for t in terms}

    def unknown(words: set[str]) -> bool:
        held = [by_text[w] for w in words if w in by_text]
        return bool(held) and not any(_known(t, known) for t in held)

    for ask in _ASKS:
        for match in ask.finditer(question):
            if unknown(_thing(match.group("thing"))):
                return True
    for match in _CHOICE.finditer(question):
        a, b = _thing(match.group("a")), _thing(match.group("b"))
        if a and b and unknown(a) and unknown(b):
            return True
    return False


def missing_attribute(question: str, terms: Sequence[Term], chosen: Sequence[Hit],
                      keys: Container[str]) -> bool:
    """Does the question ask the product it is about (the best entry) "what X" or "how
    many X" of an attribute X the catalog gives others ("what age is the puzzle box for",
    where games list an age) that it lacks and its text never mentions? A second entry
    holding X is another product's. (``keys``: the stems of the attribute names.)"""
    if not chosen or chosen[0].stored.entry.kind != PRODUCT:
        return False
    asked = {w.lower() for w in _WHAT.findall(question)}
    return any(t.text in asked and t.stems & keys and t.text not in chosen[0].matched for t in terms)


def _known(term: Term, known: Container[str]) -> bool:
    return (any(s in known for s in term.stems) or term.price or term.stock or term.duration
            or term.clock or bool(term.place) or bool(term.place_kind))


def not_offered(question: str, terms: Sequence[Term], chosen: Sequence[Hit]) -> bool:
    """Does the question ask whether the shop sells or offers a thing ("do you offer gift
    wrapping?") that the chosen entries are not about? They must name it in a title (an
    FAQ question, a product's name or category) and hold all of its words: the gift-card
    answer is not about gift wrapping, nor the wax bar about repairs."""
    asked = next((m for m in (p.search(question) for p in _OFFER_ASKS) if m), None)
    if asked is None:
        return False
    thing = _thing(asked.group("thing")) - {"any", "kind", "kinds", "sort"}
    held = set().union(*(h.matched for h in chosen))
    # A Chinese thing is written in characters the entries must all hold (险 of 运费险 is
    # what makes it insurance); of its pairs, the words are those the shop uses, not a
    # pair that straddles two words.
    if any(is_cjk(t.text) and len(t.text) == 1 and t.text in thing and t.text not in held
           for t in terms):
        return True
    words = [t for t in terms if t.text in thing and (not is_cjk(t.text) or len(t.text) > 1 and
                                                      t.weight > UNKNOWN_GRAM)]
    if not words:
        return False
    titles = set().union(*(entry_keys(f"{h.stored.entry.title} {h.stored.entry.category or ''}")
                           for h in chosen))
    return not (any(t.stems & titles for t in words) and all(t.text in held for t in words))
