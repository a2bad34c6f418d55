"""The demo shop's knowledge-base files state exactly the facts of its training corpus."""

import re

from bot.firstrun import DEMO_DIR
from bot.kb import ABOUT, FAQ, read_document


def test_the_faq_file_holds_every_question_and_answer_of_faq_txt_word_for_word():
    about, *blocks = (DEMO_DIR / "faq.txt").read_text().strip().split("\n\n")
    expected = [(ABOUT, "Juniper & Pine", about)] + [
        (FAQ, q.removeprefix("Q: "), a.removeprefix("A: "))
        for q, a in (block.split("\n") for block in blocks)
    ]
    entries = read_document(DEMO_DIR / "faq.md").entries
    assert [(e.kind, e.title, e.body) for e in entries] == expected


def test_the_catalog_holds_every_product_of_products_txt_with_its_price_and_text():
    expected = {}
    for block in (DEMO_DIR / "products.txt").read_text().strip().split("\n\n"):
        name, price, text = re.fullmatch(r"(.+?), \$(\d+)(?: to \$\d+)?\. (.*)", block, re.S).groups()
        expected[name] = (price, text)
    products = read_document(DEMO_DIR / "catalog.csv").entries
    assert {p.title: (p.price, p.body) for p in products} == expected
    assert all(p.currency == "USD" and p.url and p.category and p.attributes for p in products)
    assert [p.title for p in products if p.in_stock is False]  # stock questions have an answer
    gift_card = next(p for p in products if p.title == "Gift Card")
    assert gift_card.attributes["amounts"] == "$25 to $300"
