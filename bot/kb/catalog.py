"""The product catalog: rows of ``sku,name,category,price,currency,in_stock,attributes,
description,url`` (CSV columns or JSON object keys) into product entries.

Values are checked strictly, because whatever is stored here is what the bot will state
as fact: a price the importer had to guess at, or a stock state it misread, would be
repeated to members as true.
"""

from __future__ import annotations

import re

from bot.kb.entries import PRODUCT, Document, Entry, KBError, Problems, no_duplicates
from bot.kb.tables import Record

COLUMNS = ("sku", "name", "category", "price", "currency", "in_stock", "attributes",
           "description", "url")
REQUIRED = ("sku", "name", "price")

_PRICE = re.compile(r"(\d+)(?:\.(\d{1,2}))?")
_CURRENCY = re.compile(r"[A-Za-z]{3}")
_URL = re.compile(r"https?://\S+")
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def parse_catalog(name: str, records: list[Record], problems: Problems) -> Document:
    entries = [e for e in (_product(line, row, problems) for line, row in records) if e]
    no_duplicates(entries, problems, "sku")
    problems.raise_if_any()
    if not entries:
        raise KBError(f"{name}: no products in the file")
    return Document(name, frozenset({PRODUCT}), entries)


def _product(line: int, row: dict[str, str], problems: Problems) -> Entry | None:
    before = len(problems)
    value = {column: problems.text(line, column, row.get(column, "")) for column in COLUMNS}
    for column in REQUIRED:
        if not value[column]:
            problems.add(line, f"{column} is empty")
    price_cents = _cents(value["price"], line, problems) if value["price"] else None
    attributes = _attributes(value["attributes"], line, problems)
    in_stock = None
    if value["in_stock"]:
        in_stock = _BOOLEANS.get(value["in_stock"].lower())
        if in_stock is None:
            problems.add(line, f"in_stock {value['in_stock']!r} is not true or false")
    currency = value["currency"].upper() or None
    if value["currency"] and not _CURRENCY.fullmatch(value["currency"]):
        problems.add(line, f"currency {value['currency']!r} is not a three-letter code such as USD")
    if value["url"] and not _URL.fullmatch(value["url"]):
        problems.add(line, f"url {value['url']!r} is not an http:// or https:// address")
    if len(problems) > before:
        return None
    return Entry(
        kind=PRODUCT, key=value["sku"], title=value["name"], body=value["description"],
        category=value["category"] or None, price=value["price"], price_cents=price_cents,
        currency=currency, in_stock=in_stock, attributes=attributes, url=value["url"] or None,
        line=line,
    )


def _cents(price: str, line: int, problems: Problems) -> int | None:
    match = _PRICE.fullmatch(price)
    if match is None:
        problems.add(line, f"price {price!r} is not an amount such as 88 or 88.00 "
                           "(no currency sign or thousands separator)")
        return None
    return int(match[1]) * 100 + int((match[2] or "0").ljust(2, "0"))


def _attributes(text: str, line: int, problems: Problems) -> dict[str, str]:
    """``colour: sand, sage; fit: relaxed`` into an ordered dict; a piece without a
    ``key: value`` shape is an error rather than a guess."""
    attributes: dict[str, str] = {}
    for piece in filter(None, (p.strip() for p in text.split(";"))):
        key, colon, val = piece.partition(":")
        key, val = key.strip(), val.strip()
        if not colon or not key or not val:
            problems.add(line, f"attribute {piece!r} is not written 'key: value'")
        elif key.lower() in (k.lower() for k in attributes):
            problems.add(line, f"attribute {key!r} appears twice")
        else:
            attributes[key] = val
    return attributes
