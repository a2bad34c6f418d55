"""FAQ and policy documents: Markdown (``## question`` then its answer) or CSV
(``question,answer``) into FAQ entries, plus the shop's "about" entry.

In Markdown the text before the first ``##`` heading is the about entry, titled by a
leading ``# heading`` when there is one. Headings inside fenced code blocks are text, and
``###`` and deeper headings belong to the answer they sit in, so an answer may have its
own structure.
"""

from __future__ import annotations

import re

from bot.kb.entries import (ABOUT, ABOUT_KEY, FAQ, Document, Entry, KBError, Problems, faq_key,
                            no_duplicates)
from bot.kb.tables import Record

COLUMNS = ("question", "answer")

_QUESTION = re.compile(r" {0,3}##(?:[ \t]+(.*)|[ \t]*)")
_TITLE = re.compile(r" {0,3}#(?:[ \t]+(.*)|[ \t]*)")
_CLOSING_HASHES = re.compile(r"(?:^|[ \t]+)#+[ \t]*$")
_FENCE = re.compile(r" {0,3}(```|~~~)")


def parse_markdown(name: str, text: str, problems: Problems) -> Document:
    sections: list[tuple[int, str | None, list[str]]] = [(1, None, [])]  # (line, heading, body)
    fence = None
    for number, line in enumerate(text.splitlines(), start=1):
        opened = _FENCE.match(line)
        if opened and (fence is None or opened[1] == fence):
            fence = opened[1] if fence is None else None
        heading = _QUESTION.fullmatch(line) if fence is None and not opened else None
        if heading:
            sections.append((number, _heading_text(heading[1]), []))
        else:
            sections[-1][2].append(line)

    entries = []
    about = _about(sections[0][2], problems)
    if about:
        entries.append(about)
    for line, question, body in sections[1:]:
        question = problems.text(line, "the heading", question or "")
        answer = problems.text(line, "the answer", "\n".join(body))
        if not question:
            problems.add(line, "a '##' heading with no question")
        elif not answer:
            problems.add(line, f"'## {question}' has no answer under it")
        else:
            entries.append(Entry(kind=FAQ, key=faq_key(question), title=question, body=answer,
                                 line=line))
    return _document(name, entries, problems, with_about=about is not None)


def parse_rows(name: str, records: list[Record], problems: Problems) -> Document:
    entries = []
    for line, row in records:
        question = problems.text(line, "question", row["question"])
        answer = problems.text(line, "answer", row["answer"])
        if not question or not answer:
            problems.add(line, f"{'question' if not question else 'answer'} is empty")
        else:
            entries.append(Entry(kind=FAQ, key=faq_key(question), title=question, body=answer,
                                 line=line))
    return _document(name, entries, problems, with_about=False)


def _document(name: str, entries: list[Entry], problems: Problems, with_about: bool) -> Document:
    no_duplicates(entries, problems, "question")
    problems.raise_if_any()
    if not entries:
        raise KBError(f"{name}: no questions ('## question' headings or question,answer rows) "
                      "and no about text")
    return Document(name, frozenset({FAQ, ABOUT} if with_about else {FAQ}), entries)


def _about(lines: list[str], problems: Problems) -> Entry | None:
    """The about entry from the text before the first question, if there is any text."""
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return None
    title_line = _TITLE.fullmatch(lines[first])
    title = _heading_text(title_line[1]) if title_line else ""
    body = "\n".join(lines[first + 1:] if title_line else lines[first:])
    body = problems.text(first + 1, "the about text", body)
    if not body:
        return None  # a lone "# Shop name" says nothing worth answering with
    return Entry(kind=ABOUT, key=ABOUT_KEY, title=title or "About", body=body, line=first + 1)


def _heading_text(text: str | None) -> str:
    return _CLOSING_HASHES.sub("", text or "").strip()
