"""FAQ documents: Markdown sections and the about entry, CSV rows, and their problems."""

import pytest

from bot.kb import ABOUT, FAQ, KBError, parse_document

MARKDOWN = """\
# Juniper & Pine #

We make clothes in Portland.

We ship from our studio.

## How long does shipping take?

Three to five working days.

### Express

One to two days.

## Can I use code like this? ##

```
## not a heading, this is inside a fence
```

Yes.
##Not a heading either (no space)
## C# questions

Ask in #support.
"""


def test_markdown_sections_are_questions_and_the_preamble_is_the_about_entry():
    document = parse_document("faq.md", MARKDOWN.encode())
    assert document.kinds == {FAQ, ABOUT}
    about, shipping, code, csharp = document.entries
    assert (about.kind, about.key, about.title) == (ABOUT, "about", "Juniper & Pine")
    assert about.body == "We make clothes in Portland.\n\nWe ship from our studio."
    assert (shipping.kind, shipping.key, shipping.title, shipping.line) == (
        FAQ, "how long does shipping take", "How long does shipping take?", 7)
    assert shipping.body == "Three to five working days.\n\n### Express\n\nOne to two days."
    assert code.title == "Can I use code like this?"
    assert code.body == ("```\n## not a heading, this is inside a fence\n```\n\nYes.\n"
                         "##Not a heading either (no space)")
    assert (csharp.title, csharp.body) == ("C# questions", "Ask in #support.")


def test_about_text_without_a_title_is_called_about():
    document = parse_document("faq.markdown", b"We sell socks.\n\n## Sizes?\nS to L.\n")
    assert [(e.kind, e.title, e.body) for e in document.entries] == [
        (ABOUT, "About", "We sell socks."), (FAQ, "Sizes?", "S to L.")]


def test_a_file_without_preamble_speaks_only_for_faq_entries():
    document = parse_document("faq.md", b"\n## Sizes?\nS to L.\n")
    assert document.kinds == {FAQ}
    assert [e.kind for e in document.entries] == [FAQ]


def test_markdown_problems_are_reported_with_their_heading_lines():
    text = "## Shipping?\nFast.\n##\nOrphan text.\n## Returns?\n\n## shipping\nAgain.\n"
    with pytest.raises(KBError) as caught:
        parse_document("faq.md", text.encode())
    assert str(caught.value) == (
        "faq.md: 3 problems, nothing imported: line 3: a '##' heading with no question; "
        "line 5: '## Returns?' has no answer under it; "
        "line 7: question 'shipping' is already defined on line 1")


def test_csv_faq_rows():
    document = parse_document("faq.csv", b'question,answer\nDo you ship?,"Yes,\nworldwide."\n\nReturns?,30 days.\n')
    assert document.kinds == {FAQ}
    assert [(e.key, e.title, e.body, e.line) for e in document.entries] == [
        ("do you ship", "Do you ship?", "Yes,\nworldwide.", 2),
        ("returns", "Returns?", "30 days.", 5),
    ]
    with pytest.raises(KBError, match=r"^faq.csv: 1 problem, nothing imported: line 2: answer is empty$"):
        parse_document("faq.csv", b"question,answer\nDo you ship?,\n")


async def test_questions_that_differ_in_case_and_spacing_are_one_entry(kb, write):
    await kb.import_file(1, write("faq.md", "## Do you ship?\nYes.\n"))
    summary = await kb.import_file(1, write("faq.md", "## do  you SHIP\nYes, everywhere.\n"))
    assert (summary.added, summary.updated) == (0, 1)
    (stored,) = (await kb.listing(1)).entries
    assert (stored.entry.title, stored.entry.body) == ("do  you SHIP", "Yes, everywhere.")
