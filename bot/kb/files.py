"""A knowledge-base file, from bytes to a parsed ``Document``, importer chosen by suffix.

Parsing takes a name and bytes rather than a path, so a file uploaded to a slash command
goes through exactly the checks a file given to ``python -m bot kb import`` does.

| suffix | holds |
| --- | --- |
| ``.csv`` | a catalog when its header has ``sku``, FAQ when it has ``question``/``answer`` |
| ``.json`` | a catalog: an array of objects with the catalog's columns as keys |
| ``.md``, ``.markdown`` | FAQ: ``## question`` headings, the about text before the first |
"""

from __future__ import annotations

from pathlib import Path

from bot.kb import catalog, faq
from bot.kb.entries import Document, KBError, Problems
from bot.kb.tables import csv_header, csv_records, json_records

MAX_FILE_BYTES = 10 * 1024 * 1024  # thousands of products; Discord attachments are smaller

SUFFIXES = (".csv", ".json", ".md", ".markdown")


def read_document(path: str | Path) -> Document:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise KBError(f"{path}: {size:,} bytes; the limit is {MAX_FILE_BYTES:,}")
        data = path.read_bytes()
    except OSError as exc:
        raise KBError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return parse_document(path.name, data)


def parse_document(name: str, data: bytes) -> Document:
    """Parse a file's bytes; ``name`` picks the format (by suffix) and names it in errors."""
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIXES:
        raise KBError(f"{name}: unknown file type {suffix or '(no suffix)'!r}; a catalog is "
                      ".csv or .json, an FAQ .md or .csv")
    if len(data) > MAX_FILE_BYTES:
        raise KBError(f"{name}: {len(data):,} bytes; the limit is {MAX_FILE_BYTES:,}")
    text = _decode(name, data)
    problems = Problems(name)
    if suffix == ".json":
        return catalog.parse_catalog(
            name, json_records(name, text, catalog.COLUMNS, catalog.REQUIRED, problems), problems)
    if suffix in (".md", ".markdown"):
        return faq.parse_markdown(name, text, problems)
    header = csv_header(name, text)
    if "sku" in header:
        records = csv_records(name, text, catalog.COLUMNS, catalog.REQUIRED, problems)
        return catalog.parse_catalog(name, records, problems)
    if "question" in header or "answer" in header:
        records = csv_records(name, text, faq.COLUMNS, faq.COLUMNS, problems)
        return faq.parse_rows(name, records, problems)
    raise KBError(f"{name}: a CSV file needs a catalog header (sku,name,price,...) or an FAQ "
                  f"header (question,answer); the first line is {','.join(header)[:80]!r}")


def _decode(name: str, data: bytes) -> str:
    if b"\0" in data:
        raise KBError(f"{name}: a binary file, not text")
    try:
        text = data.decode("utf-8-sig")  # spreadsheet exports often start with a BOM
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise KBError(f"{name}: line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                      "save the file as UTF-8") from exc
    if not text.strip():
        raise KBError(f"{name}: the file is empty")
    return text
