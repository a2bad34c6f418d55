"""Search: ranking on the demo shop, member text that would break MATCH, guild isolation,
and an index that follows every import."""

import re
import sqlite3

import pytest

from bot.firstrun import DEMO_DIR
from bot.kb import FAQ, PRODUCT
from bot.kb.terms import MAX_TERMS, match_expression, query_terms
from tests.bot.kb.conftest import HEADER


@pytest.fixture
async def shop(kb):
    await kb.import_file(1, DEMO_DIR / "catalog.csv")
    await kb.import_file(1, DEMO_DIR / "faq.md")
    return kb


async def top(kb, query, guild=1, limit=3):
    return [s.entry.key for s in await kb.search(guild, query, limit)]


@pytest.mark.parametrize(("query", "first"), [
    ("How long does shipping to Canada take?", "how long does shipping take"),
    ("how much does shipping cost", "how much does shipping cost"),
    ("what's your return policy", "what is your return policy"),
    ("is merino itchy??", "is merino itchy"),
    ("do you have a physical shop", "do you have a physical shop"),
    ("Harbour Linen Shirt", "JP-101"),
    ("harbour shirt price?", "JP-101"),
    ("lookout rain shell", "JP-117"),
    ("Will a 15 inch laptop fit in the tote?", "JP-108"),
    ("jp-113", "JP-113"),  # a sku, as a member types it
])
async def test_known_questions_rank_their_entry_first(shop, query, first):
    assert (await top(shop, query))[0] == first


async def test_hits_are_ranked_best_first_and_limited(shop):
    hits = await shop.search(1, "linen shirt", limit=4)
    assert len(hits) == 4
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.score > 0 for h in hits)
    assert await shop.search(1, "linen shirt", limit=0) == []


async def test_kinds_narrow_the_search(shop):
    assert {s.entry.kind for s in await shop.search(1, "linen", 10, kinds=[FAQ])} == {FAQ}
    assert {s.entry.kind for s in await shop.search(1, "linen", 10, kinds=[PRODUCT])} == {PRODUCT}


@pytest.mark.parametrize("query", [
    '"', '""', '"shirt', 'shirt" OR "x', "NEAR(linen shirt)", "NEAR(", "shirt*", "*", "(((",
    ")", "((shirt", "title: shirt", ":", "-shirt", "shirt - linen", "^shirt", "shirt AND",
    "OR", "NOT NOT", "🙂 shirt 🙂", "!!!?", "", "   ", "\x00", "a" * 5000,
])
async def test_text_that_would_break_match_is_only_words(shop, query):
    hits = await shop.search(1, query)  # no sqlite3.OperationalError (fts5: syntax error)
    if "shirt" in query:
        assert hits[0].entry.key == "JP-101"
    elif not query_terms(query):
        assert hits == []


@pytest.mark.parametrize(("text", "expression"), [
    ("How do I wash LINEN?", '"wash" OR "linen"'),
    ('NEAR("x" y)* col:z -a ^b', '"near" OR "x" OR "y" OR "col" OR "z" OR "b"'),
    ("size M, size m", '"size" OR "m"'),
    ("how are you?", None),
    ("?!*()", None),
    ("", None),
])
def test_match_expressions_are_quoted_words_joined_by_or(text, expression):
    assert match_expression(query_terms(text)) == expression


def test_match_expressions_are_bounded_and_always_valid_fts5():
    text = " ".join(f"word{i}" for i in range(100))
    assert len(query_terms(text)) == MAX_TERMS
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5 (x)")
    for hostile in ['"', "a AND", "NEAR(a b", "x:y", "*", "-"]:
        expression = match_expression(query_terms(hostile + " ok")) or '"ok"'
        assert re.fullmatch(r'"[^"]+"( OR "[^"]+")*', expression)
        conn.execute("SELECT * FROM t WHERE t MATCH ?", (expression,)).fetchall()


async def test_porter_stems_and_diacritics_fold(shop):
    shipping = {"how long does shipping take", "how much does shipping cost"}
    assert shipping <= set(await top(shop, "shipped"))  # shipped ~ shipping
    assert "JP-115" in await top(shop, "linén scarves")


async def test_guilds_never_see_each_others_entries(shop, write):
    await shop.import_file(2, write("other.csv", HEADER + "JP-101,Tidal Linen Shirt,,50,,,,,\n"))
    assert [s.entry.title for s in await shop.search(2, "linen shirt")] == ["Tidal Linen Shirt"]
    assert "Tidal Linen Shirt" not in [s.entry.title for s in await shop.search(1, "tidal linen shirt", 50)]
    assert await shop.search(3, "linen shirt") == []


async def test_the_index_follows_updates_and_removals(db, shop, write):
    path = write("catalog.csv", HEADER + "JP-101,Harbour Poplin Shirt,,88,,,,,\n")
    await shop.import_file(1, path, replace=True)
    assert await top(shop, "poplin") == ["JP-101"]
    assert await top(shop, "lookout rain shell") == []  # removed by replace
    assert "how long does shipping take" in await top(shop, "shipping")  # FAQ kept
    await db.write("INSERT INTO kb_fts (kb_fts, rank) VALUES ('integrity-check', 1)")
