"""Records out of CSV and JSON files, each with the line it starts on.

Both importers (catalog and FAQ) take records as ``(line, {column: text})``, so the checks
on values, and the line numbers in their errors, are the same whichever format a shop
exports. Header problems (an unknown or missing column) stop the import at once: every
row would repeat them.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable

from bot.kb.entries import KBError, Problems

Record = tuple[int, dict[str, str]]


def check_columns(columns: Iterable[str], known: tuple[str, ...],
                  required: tuple[str, ...]) -> str | None:
    """The first thing wrong with a set of column names, or None."""
    columns = list(columns)
    unknown = [c for c in columns if c not in known]
    if unknown:
        return f"unknown column {unknown[0]!r} (the columns are {', '.join(known)})"
    missing = [c for c in required if c not in columns]
    if missing:
        return f"missing column {missing[0]!r} (required: {', '.join(required)})"
    return None


def csv_header(name: str, text: str) -> list[str]:
    """The header row, lower-cased, for choosing the importer before reading rows."""
    try:
        header = next(csv.reader(io.StringIO(text), strict=True), [])
    except csv.Error as exc:
        raise KBError(f"{name}: line 1: not a CSV header ({exc})") from exc
    return [column.strip().lower() for column in header]


def csv_records(name: str, text: str, known: tuple[str, ...], required: tuple[str, ...],
                problems: Problems) -> list[Record]:
    header = csv_header(name, text)
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise KBError(f"{name}: column {duplicated[0]!r} appears twice in the header")
    wrong = check_columns(header, known, required)
    if wrong:
        raise KBError(f"{name}: {wrong}")
    # strict: an unterminated quote is an error, not a field that swallows the rest of the file
    reader = csv.reader(io.StringIO(text), strict=True)
    records: list[Record] = []
    line = 0
    try:
        next(reader)
        while True:
            line = reader.line_num + 1  # a quoted field may span lines: where the row starts
            row = next(reader, None)
            if row is None:
                return records
            if not any(field.strip() for field in row):
                continue
            if len(row) != len(header):
                problems.add(line, f"{len(row)} fields, but the header has {len(header)}")
                continue
            records.append((line, dict(zip(header, row))))
    except csv.Error as exc:  # a stray or unterminated quote, a field over the module's limit
        raise KBError(f"{name}: line {line}: not valid CSV ({exc})") from exc


_NOT_SPACE = re.compile(r"\S")


def json_records(name: str, text: str, known: tuple[str, ...], required: tuple[str, ...],
                 problems: Problems) -> list[Record]:
    """A JSON array of objects, decoded one element at a time to know where each starts.

    Numbers are kept as the text written (``88.00`` stays ``88.00``), as CSV keeps them.
    """
    decoder = json.JSONDecoder(parse_float=str, parse_int=str)
    records: list[Record] = []
    pos = _skip(text, 0)
    if not text.startswith("[", pos):
        raise KBError(f"{name}: a JSON catalog is an array of objects, one per product")
    pos = _skip(text, pos + 1)
    while not text.startswith("]", pos):
        line = text.count("\n", 0, pos) + 1
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise KBError(f"{name}: line {exc.lineno}: not valid JSON ({exc.msg})") from exc
        if not isinstance(value, dict):
            problems.add(line, f"expected an object, got {type(value).__name__}")
        else:
            wrong = check_columns((str(k).lower() for k in value), known, required)
            if wrong:
                problems.add(line, wrong)
            else:
                records.append((line, {str(k).lower(): _text(v) for k, v in value.items()}))
        pos = _skip(text, pos)
        if text.startswith(",", pos):
            pos = _skip(text, pos + 1)
        elif not text.startswith("]", pos):
            line = text.count("\n", 0, pos) + 1
            raise KBError(f"{name}: line {line}: not valid JSON (expected ',' or ']')")
    if _NOT_SPACE.search(text, pos + 1):
        line = text.count("\n", 0, pos) + 1
        raise KBError(f"{name}: line {line}: unexpected text after the closing ']'")
    return records


def _skip(text: str, pos: int) -> int:
    found = _NOT_SPACE.search(text, pos)
    return found.start() if found else len(text)


def _text(value: object) -> str:
    """A JSON value as the text a CSV cell would hold; objects become ``key: value; ...``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_text(v) for v in value)
    return str(value)
