"""Product descriptions: the facts a draft is written from, the fallback that cannot fail
the fact check, and a model's draft cut to fit (``/product describe``)."""

from __future__ import annotations

import re

from bot.core.text import sanitize
from bot.grounding.compose import price_text, stock_text
from bot.kb import Stored

FACT_BODY_CHARS = 600                    # the current description, in the prompt
DRAFT_CHARS, PREVIEW_CHARS = 1500, 3500  # a drafted text; what an embed shows of one
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def product_facts(stored: Stored, with_body: bool = True) -> str:
    e = stored.entry
    lines = [f"Name: {e.title}", f"SKU: {e.key}"]
    lines += [f"{label}: {value}" for label, value in (
        ("Price", price_text(stored)), ("Stock", stock_text(stored)), ("Category", e.category))
        if value]
    lines += [f"{k.capitalize()}: {v}" for k, v in e.attributes.items()]
    if with_body and e.body.strip():
        lines.append(f"Current description: {e.body.strip()[:FACT_BODY_CHARS]}")
    return "\n".join(lines)


def entry_draft(stored: Stored) -> str:
    """The fallback: the entry's own description and attributes, which cannot fail the check."""
    e = stored.entry
    parts = [e.body.strip()] if e.body.strip() else []
    parts += [f"{k.capitalize()}: {v}." for k, v in e.attributes.items()]
    return " ".join(parts) or f"{e.title}."


def tidy(text: str) -> str:
    """A model's draft made safe to show, cut at a sentence end within ``DRAFT_CHARS``."""
    text = sanitize(text).strip()
    if len(text) <= DRAFT_CHARS:
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text, 0, DRAFT_CHARS)]
    return text[: ends[-1] if ends else DRAFT_CHARS].strip()


def preview(text: str) -> str:
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"
