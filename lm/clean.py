"""Cleaning text before it is tokenized or trained on.

NFC (never NFKC): NFKC folds full-width letters and CJK punctuation into ASCII look-alikes,
which silently rewrites Chinese and Japanese text. Cleaning is the same for training,
evaluation and the tokenizer, so a model is scored on text shaped like what it saw.
"""
from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from typing import Iterable, Iterator

from .errors import LMError
from .sources import Chat, Document, Source, parse_source, read_source

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANKS = re.compile(r"\n{3,}")

# Order matters: Discord mentions contain ids, ids look like long numbers, and phone
# numbers must not swallow the placeholders.
_PII = [
    (re.compile(r"<@!?\d{15,21}>"), "<user>"),
    (re.compile(r"<@&\d{15,21}>"), "<role>"),
    (re.compile(r"<#\d{15,21}>"), "<channel>"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (re.compile(r"(?<!\d)\d{17,20}(?!\d)"), "<id>"),
    (re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?|\d{2,5}[\s.-])"
                r"\d{3,4}[\s.-]?\d{3,4}(?![\w])"), "<phone>"),
]


def scrub_pii(text: str) -> str:
    for pattern, placeholder in _PII:
        text = pattern.sub(placeholder, text)
    return text


def clean_text(text: str, scrub: bool = False) -> str:
    text = html.unescape(text)
    text = unicodedata.normalize("NFC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    text = _BLANKS.sub("\n\n", text).strip()
    return scrub_pii(text) if scrub else text


def clean_document(doc: Document, scrub: bool) -> Document | None:
    if isinstance(doc, Chat):
        turns = tuple((r, c) for r, c in ((r, clean_text(c, scrub)) for r, c in doc.messages) if c)
        return Chat(turns) if turns else None
    return clean_text(doc, scrub) or None


def document_text(doc: Document) -> str:
    return doc.text if isinstance(doc, Chat) else doc


def document_key(doc: Document) -> bytes:
    """A stable digest of a document: used for de-duplication and the train/val split."""
    if isinstance(doc, Chat):
        body = "\x1e".join(f"{r}\x1f{c}" for r, c in doc.messages)
    else:
        body = doc
    return hashlib.blake2b(body.encode("utf-8"), digest_size=8).digest()


def iter_corpus(specs: Iterable[str], scrub: str = "auto", limit: int | None = None
                ) -> Iterator[Document]:
    """Cleaned, non-empty, de-duplicated documents from every source, in order.

    scrub: "auto" scrubs PII in chat sources only; "on" everywhere; "off" nowhere.
    """
    sources: list[Source] = [parse_source(s) for s in specs]
    seen: set[bytes] = set()
    count = 0
    for src in sources:
        do_scrub = scrub == "on" or (scrub == "auto" and src.is_chat)
        for raw in read_source(src):
            doc = clean_document(raw, do_scrub)
            if doc is None:
                continue
            key = document_key(doc)
            if key in seen:
                continue
            seen.add(key)
            yield doc
            count += 1
            if limit is not None and count >= limit:
                return


def load_corpus(specs: Iterable[str], scrub: str = "auto", limit: int | None = None
                ) -> list[Document]:
    specs = list(specs)
    docs = list(iter_corpus(specs, scrub, limit))
    if not docs:
        raise LMError(f"empty corpus: no text in {', '.join(specs)} after cleaning")
    return docs
