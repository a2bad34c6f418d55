"""A question about a thing the shop never mentions is declined, however much else of it
the entries cover; one about a thing the shop does mention is left to the score."""

import pytest

from bot.grounding import Grounder
from bot.grounding.focus import unknown_thing
from bot.grounding.retrieval import Retriever
from bot.kb import KnowledgeBase
from bot.kb.files import parse_document
from tests.bot.grounding.conftest import GUILD
from tests.bot.grounding.test_answerer import ZH_FAQ


async def _unknown(shop, question: str) -> bool:
    retriever = Retriever(shop)
    terms, _ = await retriever.retrieve(GUILD, question)
    return unknown_thing(question, terms, (await retriever.vocabulary(GUILD)).df)


@pytest.mark.parametrize("question", [
    "is there a lift at the studio?",
    "can i pay with klarna?",
    "is afterpay available at checkout?",
    "who's the founder?",
    "are u hiring?",
    "is the wax jacket vegan or petroleum based?",
    "who actually started juniper & pine?",
    "what's the ph of the wax bar?",
    "is the merino beanie safe for my parrot?",
    "will the wax bar help my eczema?",
])
async def test_the_thing_asked_about_is_read_off_the_question(shop, question):
    assert await _unknown(shop, question)


@pytest.mark.parametrize("question", [
    "is there a free shipping threshold?",      # one known word lets the score decide
    "do you have any tips for washing linen?",  # tips name help, not a thing
    "do you ship to canada?",                   # no thing-shaped ask at all
    "is the meadow dress available in blue?",   # the dress is known
    "who pays for return shipping?",            # "who pays" asks a policy, not a person
    "what's the price of the wax bar?",         # a price is held by any product
])
async def test_a_thing_the_shop_mentions_is_not_refused(shop, question):
    assert not await _unknown(shop, question)


@pytest.mark.parametrize(("question", "kind"), [
    ("is there a lift at the studio?", "decline"),
    ("can i pay with klarna?", "decline"),
    ("is afterpay available at checkout?", "decline"),
    ("is there a free shipping threshold?", "answer"),
    ("how do I care for linen?", "answer"),
])
async def test_the_grounder_declines_what_the_shop_never_mentions(grounder, question, kind):
    assert (await grounder.respond(GUILD, question)).kind == kind


async def test_a_chinese_do_you_sell_is_answered_only_by_an_entry_about_it(db):
    kb = KnowledgeBase(db)
    await kb.import_document(GUILD, parse_document("faq.md", ZH_FAQ.encode()))
    grounder = Grounder(kb)
    # The return and postage entries hold its words; neither is about insurance.
    assert (await grounder.respond(GUILD, "有卖退货运费险吗？")).kind == "decline"
    assert (await grounder.respond(GUILD, "卖不卖运费险")).kind == "decline"
    assert (await grounder.respond(GUILD, "运费怎么算？")).kind == "answer"


@pytest.mark.parametrize(("question", "kind"), [
    ("what scent is the cedar soap dish?", "decline"),      # candles list a scent; the dish none
    ("what material is the cedar soap dish?", "answer"),
    ("does the tidepool candle come with a lid?", "decline"),
    ("is the tidepool candle available in lavender?", "decline"),
    ("what does the tidepool candle smell like?", "answer"),
])
async def test_a_product_is_not_answered_for_what_it_never_says(tidepool, question, kind):
    assert (await tidepool.respond(GUILD, question)).kind == kind
