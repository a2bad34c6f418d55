"""Importing catalogs and FAQ files: fields, idempotent re-import, replace, and bad input."""

import json

import pytest

from bot.kb import ABOUT, FAQ, PRODUCT, Entry, KBError, parse_document
from tests.bot.kb.conftest import HEADER

CATALOG = HEADER + (
    'SH-1,Harbour Shirt,shirts,88,usd,yes,"colour: sand, sage; fit: relaxed",'
    '"A linen shirt.",https://shop.example/sh-1\n'
    "TE-2,Pine Tee,tops,12.5,,NO,,A merino tee.,\n"
    "SC-3,Fern Scarf,,42.00,EUR,,,,\n"
)


async def keys(kb, guild=1):
    return [(s.entry.kind, s.entry.key) for s in (await kb.listing(guild)).entries]


async def test_catalog_rows_become_products_with_every_field(kb, write):
    summary = await kb.import_file(1, write("catalog.csv", CATALOG))
    assert (summary.added, summary.updated, summary.unchanged, summary.removed) == (3, 0, 0, 0)
    listing = await kb.listing(1)
    assert listing.counts == {PRODUCT: 3, FAQ: 0, ABOUT: 0}
    shirt, tee, scarf = (s.entry for s in listing.entries)
    assert shirt == Entry(kind=PRODUCT, key="SH-1", title="Harbour Shirt", body="A linen shirt.",
                          category="shirts", price="88", price_cents=8800, currency="USD",
                          in_stock=True, attributes={"colour": "sand, sage", "fit": "relaxed"},
                          url="https://shop.example/sh-1")
    assert (tee.price, tee.price_cents, tee.in_stock, tee.currency, tee.url) == ("12.5", 1250, False, None, None)
    assert (scarf.price, scarf.price_cents, scarf.in_stock, scarf.category) == ("42.00", 4200, None, None)
    assert {s.source for s in listing.entries} == {"catalog.csv"}


async def test_a_json_catalog_gives_the_same_products(kb, write):
    products = [
        {"sku": "SH-1", "name": "Harbour Shirt", "category": "shirts", "price": 88, "currency": "usd",
         "in_stock": True, "attributes": {"colour": ["sand", "sage"], "fit": "relaxed"},
         "description": "A linen shirt.", "url": "https://shop.example/sh-1"},
        {"sku": "TE-2", "name": "Pine Tee", "category": "tops", "price": 12.5, "in_stock": "no",
         "attributes": "", "description": "A merino tee."},
        {"sku": "SC-3", "name": "Fern Scarf", "price": "42.00", "currency": "EUR"},
    ]
    await kb.import_file(1, write("catalog.json", json.dumps(products, indent=2)))
    await kb.import_file(2, write("catalog.csv", CATALOG))
    from_json = [s.entry for s in (await kb.listing(1)).entries]
    assert from_json == [s.entry for s in (await kb.listing(2)).entries]
    assert from_json[1].price == "12.5"  # the number as written, not a float's repr


async def test_a_second_import_changes_nothing_and_an_edit_updates_one_entry(db, kb, write):
    path = write("catalog.csv", CATALOG)
    await kb.import_file(1, path)
    again = await kb.import_file(1, path)
    assert (again.added, again.updated, again.unchanged, again.removed) == (0, 0, 3, 0)
    before = dict(await db.fetchall("SELECT key, updated_at FROM kb_entries"))

    kb._clock = lambda: 4_000_000_000.0  # a later import time, so a touched row would show it
    edited = await kb.import_file(1, write("catalog.csv", CATALOG.replace("Pine Tee,tops,12.5", "Pine Tee,tops,14")))
    assert (edited.added, edited.updated, edited.unchanged, edited.removed) == (0, 1, 2, 0)
    after = dict(await db.fetchall("SELECT key, updated_at FROM kb_entries"))
    assert after == before | {"TE-2": 4_000_000_000_000}
    assert (await kb.listing(1)).entries[1].entry.price_cents == 1400


async def test_replace_removes_what_the_file_dropped_and_nothing_else(kb, write):
    await kb.import_file(1, write("catalog.csv", CATALOG))
    await kb.import_file(1, write("faq.md", "## Do you ship?\nYes.\n"))
    await kb.import_file(2, write("catalog.csv", CATALOG))
    shorter = write("short.csv", HEADER + "SH-1,Harbour Shirt,shirts,88,usd,yes,,,\n")

    kept = await kb.import_file(1, shorter)  # without replace, missing rows stay
    assert (kept.updated, kept.removed) == (1, 0)
    assert len((await kb.listing(1)).entries) == 4

    replaced = await kb.import_file(1, shorter, replace=True)
    assert (replaced.unchanged, replaced.removed) == (1, 2)
    assert await keys(kb) == [(PRODUCT, "SH-1"), (FAQ, "do you ship")]  # the FAQ is another kind
    assert len((await kb.listing(2)).entries) == 3  # another guild's catalog is untouched


async def test_replace_with_an_faq_file_leaves_an_about_it_does_not_speak_for(kb, write):
    await kb.import_file(1, write("faq.md", "We sell shirts.\n## Do you ship?\nYes.\n## Returns?\n30 days.\n"))
    summary = await kb.import_file(1, write("faq.md", "## Do you ship?\nYes.\n"), replace=True)
    assert summary.removed == 1
    assert await keys(kb) == [(FAQ, "do you ship"), (ABOUT, "about")]


async def test_bad_rows_are_reported_by_line_and_nothing_is_committed(kb, write):
    await kb.import_file(1, write("catalog.csv", CATALOG))
    before = await kb.listing(1)
    bad = HEADER + (
        "SH-1,Harbour Shirt,shirts,90,usd,yes,,,\n"                    # line 2: fine (a change)
        'TE-2,"Pine\nTee",tops,$12,,maybe,,,\n'                        # line 3 (spans 2 lines)
        ",No Sku,,5,,,,,\n"                                             # line 5
        "X-1,Thing,,1.234,US,,colour sand,,ftp://x\n"                  # line 6
        "X-2,Short row\n"                                               # line 7
        "SH-1,Harbour Shirt again,shirts,88,usd,yes,,,\n"              # line 8
    )
    with pytest.raises(KBError) as caught:
        await kb.import_file(1, write("bad.csv", bad))
    message = str(caught.value)
    assert message.startswith("bad.csv: 9 problems, nothing imported: line 3: price '$12' is not")
    for part in ["line 3: in_stock 'maybe' is not true or false", "line 5: sku is empty",
                 "line 6: price '1.234'", "line 6: attribute 'colour sand' is not written 'key: value'",
                 "line 6: currency 'US' is not a three-letter code", "line 6: url 'ftp://x'",
                 "line 7: 2 fields, but the header has 9",
                 "line 8: sku 'SH-1' is already defined on line 2"]:
        assert part in message
    assert "\n" not in message
    assert await kb.listing(1) == before


async def test_many_bad_rows_are_counted_after_the_first_twenty(kb, write):
    rows = "".join(f"S-{i},Name,,free,,,,,\n" for i in range(30))
    with pytest.raises(KBError, match=r"^many\.csv: 30 problems, .*line 21: .*; and 10 more$") as caught:
        await kb.import_file(1, write("many.csv", HEADER + rows))
    assert "line 22:" not in str(caught.value)


@pytest.mark.parametrize(("header", "error"), [
    ("sku,name,price,colour", "unknown column 'colour' (the columns are sku, name, category,"),
    ("sku,name,category", "missing column 'price' (required: sku, name, price)"),
    ("SKU, Name ,price,price", "column 'price' appears twice"),
    ("question,answer,link", "unknown column 'link' (the columns are question, answer)"),
    ("question", "missing column 'answer'"),
    ("id,title", "a CSV file needs a catalog header"),
])
def test_header_problems_name_the_column(header, error):
    with pytest.raises(KBError) as caught:
        parse_document("file.csv", f"{header}\nx,y,z,w\n".encode())
    assert str(caught.value).startswith("file.csv: ")
    assert error in str(caught.value)


def test_json_objects_are_checked_one_by_one_with_their_lines():
    text = ('[\n  {"sku": "A", "name": "a", "price": 1},\n  {"sku": "B", "name": "b", "colour": "red"},\n'
            '  "not an object",\n  {"sku": "C", "name": "c", "price": "x"}\n]')
    with pytest.raises(KBError) as caught:
        parse_document("c.json", text.encode())
    assert str(caught.value) == (
        "c.json: 3 problems, nothing imported: line 3: unknown column 'colour' (the columns are "
        "sku, name, category, price, currency, in_stock, attributes, description, url); "
        "line 4: expected an object, got str; line 5: price 'x' is not an amount such as 88 or "
        "88.00 (no currency sign or thousands separator)")


@pytest.mark.parametrize(("name", "data", "error"), [
    ("c.csv", b"\x89PNG\r\n\x1a\n\x00\x00", "c.csv: a binary file, not text"),
    ("c.csv", HEADER.encode() + "A,Caf\xe9,,1,,,,,\n".encode("latin-1"),
     "c.csv: line 2: not UTF-8 text (byte 0xe9); save the file as UTF-8"),
    ("c.csv", b"", "c.csv: the file is empty"),
    ("f.md", b"  \n\n", "f.md: the file is empty"),
    ("c.csv", HEADER.encode(), "c.csv: no products in the file"),
    ("f.md", b"# Only a title\n", "f.md: no questions"),
    ("c.csv", (HEADER + "A,a,,1,,,,\"" + "x" * 20_001 + "\",\n").encode(),
     "c.csv: 1 problem, nothing imported: line 2: description is 20,001 characters; the limit is 20,000"),
    ("c.csv", (HEADER + 'A,"a,,1,,,,,\n').encode(), "c.csv: line 2: not valid CSV (unexpected end of data)"),
    ("c.json", b'{"sku": "A"}', "c.json: a JSON catalog is an array of objects, one per product"),
    ("c.json", b'[\n{"sku": "A",\n}\n]', "c.json: line 3: not valid JSON"),
    ("notes.txt", b"hello", "notes.txt: unknown file type '.txt'"),
    ("README", b"hello", "README: unknown file type '(no suffix)'"),
])
def test_unusable_files_get_one_line_errors(name, data, error):
    with pytest.raises(KBError) as caught:
        parse_document(name, data)
    assert str(caught.value).startswith(error)
    assert "\n" not in str(caught.value)


async def test_a_missing_file_is_an_operator_error(kb, tmp_path):
    with pytest.raises(KBError, match="^cannot read .*nothing.csv: No such file"):
        await kb.import_file(1, tmp_path / "nothing.csv")


def test_in_stock_accepts_yes_no_one_zero_in_any_case():
    rows = "".join(f"S-{i},n,,1,,{value},,,\n" for i, value in enumerate(["TRUE", "Yes", "1", "false", "NO", "0", ""]))
    document = parse_document("c.csv", (HEADER + rows).encode("utf-8-sig"))  # with a BOM
    assert [e.in_stock for e in document.entries] == [True, True, True, False, False, False, None]
