"""Reading training text from the places a community keeps it.

A source is one command-line word:

    FILE.txt                  plain text; one document per blank-line-separated block
    FILE.jsonl:FIELD[,FIELD]  one document per record, the named fields joined by newlines
    FILE.jsonl                chat JSONL in our own format: {"messages": [{"role", "content"}]}
    FILE.csv[.gz]:COL[,COL]   one document per row, the named columns joined by newlines
    chitchat                  the conversations shipped in the `chitchat-dataset` package

Any of the files may be gzip-compressed (`.gz`). A document is either a string or a
`Chat`; chats are kept structured so role tags become control tokens, never text.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Union

from .errors import LMError

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Chat:
    messages: tuple[tuple[str, str], ...]  # (role, content)

    @property
    def text(self) -> str:
        """The visible text, used for byte counts and tokenizer training."""
        return "\n".join(content for _, content in self.messages)


Document = Union[str, Chat]


@dataclass(frozen=True)
class Source:
    spec: str
    path: Path | None
    fields: tuple[str, ...]

    @property
    def is_chat(self) -> bool:
        """Chat sources are people talking: their PII is scrubbed by default."""
        return self.path is None or (self.kind == "jsonl" and not self.fields)

    @property
    def kind(self) -> str:
        if self.path is None:
            return "chitchat"
        name = self.path.name.lower().removesuffix(".gz")
        for ext in ("jsonl", "csv"):
            if name.endswith("." + ext):
                return ext
        return "text"


_SPEC = re.compile(r"^(?P<path>.+?\.(?:jsonl|csv)(?:\.gz)?)(?::(?P<fields>.*))?$", re.IGNORECASE)


def parse_source(spec: str) -> Source:
    if spec == "chitchat":
        return Source(spec, None, ())
    m = _SPEC.match(spec)
    path, fields = (m["path"], m["fields"]) if m else (spec, None)
    names = tuple(f.strip() for f in fields.split(",")) if fields else ()
    src = Source(spec, Path(path), names)
    if not src.path.is_file():
        raise LMError(f"source {spec!r}: no such file {src.path}")
    if src.kind == "csv" and not names:
        raise LMError(f"source {spec!r}: name the CSV column(s), e.g. {path}:Title,Review Text")
    return src


def _open_text(path: Path) -> io.TextIOBase:
    raw = gzip.open(path, "rb") if path.name.lower().endswith(".gz") else open(path, "rb")
    return io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="")


def read_source(src: Source) -> Iterator[Document]:
    try:
        if src.kind == "chitchat":
            yield from _read_chitchat()
        elif src.kind == "csv":
            yield from _read_csv(src)
        elif src.kind == "jsonl":
            yield from _read_jsonl(src)
        else:
            yield from _read_text(src)
    except UnicodeDecodeError as e:
        raise LMError(f"source {src.spec!r}: not UTF-8 text (byte offset {e.start})") from None
    except (OSError, EOFError, csv.Error) as e:
        raise LMError(f"source {src.spec!r}: cannot read {src.path}: {e}") from None


def _read_text(src: Source) -> Iterator[str]:
    with _open_text(src.path) as f:
        block: list[str] = []
        for line in f:
            if line.strip():
                block.append(line)
            elif block:
                yield "".join(block)
                block = []
        if block:
            yield "".join(block)


def _read_csv(src: Source) -> Iterator[str]:
    csv.field_size_limit(sys.maxsize)
    with _open_text(src.path) as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [c for c in src.fields if c not in header]
        if missing:
            shown = ", ".join(repr(h) for h in header if h)
            raise LMError(f"source {src.spec!r}: unknown column {missing[0]!r} (columns: {shown})")
        for row in reader:
            yield "\n".join(row[c] for c in src.fields if row.get(c))


def _read_jsonl(src: Source) -> Iterator[Document]:
    seen = set()
    with _open_text(src.path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise LMError(f"source {src.spec!r}: line {lineno} is not JSON ({e.msg})") from None
            if not isinstance(rec, dict):
                raise LMError(f"source {src.spec!r}: line {lineno} is not a JSON object")
            if not src.fields:
                yield _chat_record(src, lineno, rec)
                continue
            seen.update(k for k in src.fields if k in rec)
            yield "\n".join(str(rec[k]) for k in src.fields if rec.get(k) not in (None, ""))
    unknown = [k for k in src.fields if k not in seen]
    if unknown:
        raise LMError(f"source {src.spec!r}: unknown field {unknown[0]!r} (no record has it)")


def _chat_record(src: Source, lineno: int, rec: dict) -> Chat:
    msgs = rec.get("messages")
    if not isinstance(msgs, list):
        raise LMError(f"source {src.spec!r}: line {lineno} has no 'messages' list; for "
                      f"plain JSONL name the field(s), e.g. {src.path}:text")
    out = []
    for m in msgs:
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise LMError(f"source {src.spec!r}: line {lineno}: each message needs a role "
                          f"({', '.join(ROLES)}) and a string content")
        out.append((m["role"], m["content"]))
    return Chat(tuple(out))


def _read_chitchat() -> Iterator[Chat]:
    """Each conversation has two people; the one who opens is the user, the other the assistant.

    A chitchat "message" is a run of lines one person sent in a row, which is one turn.
    """
    try:
        import chitchat_dataset
    except ImportError:
        raise LMError("source 'chitchat': the chitchat-dataset package is not installed") from None
    data = json.loads((Path(chitchat_dataset.__file__).parent / "dataset.json").read_text())
    for conv in data.values():
        first = None
        turns = []
        for run in conv["messages"]:
            if not run:
                continue
            first = first or run[0]["sender"]
            role = "user" if run[0]["sender"] == first else "assistant"
            turns.append((role, "\n".join(u["text"] for u in run)))
        if turns:
            yield Chat(tuple(turns))
