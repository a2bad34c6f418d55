"""Replies built from the entries' own words: what a small model cannot get wrong.

An FAQ answer is quoted under its question: whole when it is short, else the sentences
holding most of the question's weight, in the entry's order. A product answer is its name,
price and stock state (from the catalog's columns, never paraphrased), its description
(whole when short) with the attributes the question is about, or every attribute when
what it asks is in none of the product's words ("how heavy", "what's in it"), and its
link. Both name their source, so a
member (and a moderator reading along) can check it.
"""

from __future__ import annotations

import re

from bot.grounding.retrieval import Hit, Term, Vocabulary, entry_keys
from bot.kb import ABOUT, PRODUCT, Stored

WHOLE_ANSWER_CHARS = 360  # most FAQ answers are shorter: quote them whole
QUOTE_CHARS = 360
SYMBOLS = {"USD": "$", "CAD": "CA$", "AUD": "A$", "NZD": "NZ$", "EUR": "€", "GBP": "£",
           "JPY": "¥", "CNY": "¥"}

_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])|\n+")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def price_text(stored: Stored) -> str | None:
    e = stored.entry
    if e.price is None:
        return None
    symbol = SYMBOLS.get(e.currency or "")
    return f"{symbol}{e.price}" if symbol else f"{e.price} {e.currency or ''}".strip()


def stock_text(stored: Stored) -> str | None:
    return {True: "in stock", False: "out of stock right now", None: None}[stored.entry.in_stock]


def _held(piece: str, terms: list[Term], vocab: Vocabulary) -> float:
    """How much of the terms' weight ``piece`` holds, rarer words counting more."""
    keys = entry_keys(piece)
    return sum(t.weight * max(vocab.idf(k) for k in t.stems) for t in terms if t.stems & keys)


def _pick(pieces: list[str], terms: list[Term], vocab: Vocabulary, limit: int) -> list[str]:
    """The pieces that best answer the terms, in their own order, within ``limit``
    characters; at least the best one."""
    scores = [_held(piece, terms, vocab) for piece in pieces]
    ranked = sorted(range(len(pieces)), key=lambda i: (-scores[i], i))
    chosen, used = [], 0
    for i in ranked:
        if chosen and (scores[i] == 0 or used + len(pieces[i]) > limit):
            continue
        chosen.append(i)
        used += len(pieces[i]) + 1
    return [pieces[i] for i in sorted(chosen)]


def _within(pieces: list[str], limit: int) -> list[str]:
    """The first pieces that fit in ``limit`` characters together."""
    out, used = [], 0
    for piece in pieces:
        if used + len(piece) > limit:
            break
        out.append(piece)
        used += len(piece) + 1
    return out


def quote(text: str) -> str:
    return "\n".join("> " + line for line in text.splitlines() if line.strip())


def faq_answer(hit: Hit, terms: list[Term], vocab: Vocabulary) -> str:
    e = hit.stored.entry
    body = e.body.strip()
    if len(body) <= WHOLE_ANSWER_CHARS:
        text = body
    else:
        text = " ".join(_pick(sentences(body), terms, vocab, QUOTE_CHARS))
    where = "about us" if e.kind == ABOUT else "our FAQ"
    return f"**{e.title}** ({where})\n{quote(text)}"


def product_answer(hit: Hit, terms: list[Term], vocab: Vocabulary) -> str:
    stored = hit.stored
    e = stored.entry
    facts = [f for f in (price_text(stored), stock_text(stored)) if f]
    head = f"**{e.title}** ({e.key})" + (": " + ", ".join(facts) if facts else "")
    about = [t for t in terms if not (t.price or t.stock) and not (t.stems & entry_keys(e.title))]
    attributes = [f"{k.capitalize()}: {v}." for k, v in e.attributes.items()]
    body = e.body.strip()
    short = len(body) <= WHOLE_ANSWER_CHARS
    keys = entry_keys(" ".join([body, *attributes]))
    if any(not t.stems & keys for t in about) or not (about or any(t.price or t.stock for t in terms)):
        # What is asked is not in the product's words ("how heavy is it", "what's in it"):
        # the attributes all, as its page lists them, for one of them is likely the answer.
        told = [body] if short else _pick(sentences(body), about, vocab, QUOTE_CHARS)
        pieces = [p for p in told if p] + _within(attributes, QUOTE_CHARS)
    elif short:
        # A short description is quoted whole, as a short FAQ answer is ("how do I use the
        # wax bar" is answered by the sentence after the one that says "use"), with the
        # attributes the question is about.
        asked = [a for a in attributes if _held(a, about, vocab) > 0]
        pieces = [p for p in (body, *_pick(asked, about, vocab, QUOTE_CHARS)) if p]
    else:
        pieces = _pick(sentences(body) + attributes, about, vocab, QUOTE_CHARS)
    lines = [head]
    if pieces:
        lines.append(quote(" ".join(pieces)))
    if e.url:
        lines.append(f"<{e.url}>")
    return "\n".join(lines)


def answer(hits: list[Hit], terms: list[Term], vocab: Vocabulary) -> str:
    blocks = [product_answer(h, terms, vocab) if h.stored.entry.kind == PRODUCT
              else faq_answer(h, terms, vocab) for h in hits]
    return "\n\n".join(blocks)


def source_name(stored: Stored) -> str:
    """How the logs and the benchmark name a cited entry: a product's sku, "about", or
    an FAQ entry's question."""
    e = stored.entry
    return e.key if e.kind in (PRODUCT, ABOUT) else e.title


DONT_KNOW = "I don't know that one, and I'd rather not guess."
DONT_KNOW_ZH = "这个问题我不清楚，不想乱猜。"


def human_offer(role_id: int | None, channel_id: int | None) -> str:
    """The offer of a person, for an upset member who got an answer (not a decline)."""
    role, channel = f"<@&{role_id}>", f"<#{channel_id}>"
    if role_id is not None and channel_id is not None:
        return f"If that doesn't sort it out, the team ({role}) can help you in {channel}."
    if role_id is not None:
        return f"If that doesn't sort it out, someone from the team ({role}) can help you."
    if channel_id is not None:
        return f"If that doesn't sort it out, please ask in {channel}, where the team can help you."
    return "If that doesn't sort it out, a team member can help you: ask one of the moderators."


def decline(role_id: int | None, channel_id: int | None, pinged: bool, *,
            chinese: bool = False) -> str:
    """The honest "I don't know", offering the staff the guild configured, in Chinese for
    a question asked in Chinese. A role is shown as a mention, which pings only when
    ``pinged`` (the adapter allows no pings on answers; the ping, when allowed, is a
    separate post)."""
    role, channel = f"<@&{role_id}>", f"<#{channel_id}>"
    if chinese:
        if role_id is not None and pinged:
            return f"{DONT_KNOW_ZH}我已经请团队（{role}）来帮你。"
        if channel_id is not None:
            return f"{DONT_KNOW_ZH}请到 {channel} 提问，团队会帮你解答。"
        return f"{DONT_KNOW_ZH}请联系管理员或店铺团队。"
    if role_id is not None and pinged:
        return f"{DONT_KNOW} I've asked the team ({role}) to help you here."
    if role_id is not None and channel_id is not None:
        return f"{DONT_KNOW} The team ({role}) can help you in {channel}."
    if role_id is not None:
        return f"{DONT_KNOW} Someone from the team ({role}) can help you."
    if channel_id is not None:
        return f"{DONT_KNOW} Please ask in {channel}, where the team can help you."
    return f"{DONT_KNOW} A team member can help you: please ask one of the moderators."
