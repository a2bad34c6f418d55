"""Deciding and writing grounded answers over the demo shop: right and cited, or declined.

The questions here are worded unlike the demo FAQ on purpose (typos, slang, other
spellings); the benchmark's question set (bench/data) is not used, so tests do not
become a second copy of what the threshold was calibrated on."""

import pytest

from bot.grounding import Grounder, unsupported
from bot.grounding.answerer import is_factual, sources_of
from bot.kb import KnowledgeBase
from bot.kb.files import parse_document
from tests.bot.grounding.conftest import GUILD


async def test_a_factual_question_is_answered_in_the_entrys_own_words_with_its_source(grounder):
    outcome = await grounder.respond(GUILD, "hiya how many days does standard shiping take in the us?")
    assert outcome.kind == "answer"
    assert outcome.sources[0] == "How long does shipping take?"
    assert "**How long does shipping take?**" in outcome.text
    assert "3 to 5 working days" in outcome.text


async def test_a_product_answer_states_price_stock_and_link_from_the_catalog(grounder):
    outcome = await grounder.respond(GUILD, "what does the meadow dress cost?")
    assert outcome.kind == "answer" and outcome.sources[0] == "JP-102"
    assert "$128" in outcome.text and "in stock" in outcome.text
    assert "<https://juniperandpine.example/products/meadow-linen-dress>" in outcome.text


@pytest.mark.parametrize("question", ["is the fern scarf available?", "ridge crew still in stock??"])
async def test_an_out_of_stock_product_is_said_to_be_out_of_stock(grounder, question):
    outcome = await grounder.respond(GUILD, question)
    assert outcome.kind == "answer"
    assert "out of stock" in outcome.text
    assert " in stock" not in outcome.text


@pytest.mark.parametrize("question", [
    "do you sell surfboards?", "what's your phone number?", "can I pay with bitcoin?",
    "is there a student discount?",
])
async def test_a_factual_question_with_nothing_relevant_is_declined(grounder, question):
    assert (await grounder.respond(GUILD, question)).kind == "decline"


@pytest.mark.parametrize("message", ["how are you today?", "lol that's so true", "I'm a size M, thanks!",
                                     "what do you think of linen?",
                                     "i'm so happy with my order, what a great shop"])
async def test_small_talk_and_opinions_go_to_the_model(grounder, message):
    assert (await grounder.respond(GUILD, message)).kind == "chat"


async def test_an_empty_knowledge_base_declines_every_factual_question(db):
    outcome = await Grounder(KnowledgeBase(db)).respond(GUILD, "how much is shipping?")
    assert outcome.kind == "decline"


@pytest.mark.parametrize(("question", "source"), [
    ("do the drift pants come in a long leg?", "JP-103"),        # pants ~ trousers
    ("what color options for the harbor shirt", "JP-101"),     # American spellings
    ("hw do i wash lnen", "How do I wash linen?"),             # typos
    ("can i chnage the adress of my order", "Can I change or cancel my order?"),  # swapped letters
    ("how do i speak to a human", "How do I contact a person?"),  # everyday synonyms
])
async def test_other_names_spellings_and_typos_find_the_entry(grounder, question, source):
    outcome = await grounder.respond(GUILD, question)
    assert outcome.kind == "answer" and outcome.sources[0] == source


async def test_it_means_the_product_the_member_just_named(grounder):
    outcome = await grounder.respond(GUILD, "how much is it?",
                                     recent=["I love the trail waxed canvas jacket"])
    assert outcome.kind == "answer" and outcome.sources[0] == "JP-107"
    assert "$245" in outcome.text


async def test_two_part_questions_cite_both_entries(grounder):
    outcome = await grounder.respond(
        GUILD, "how long do refunds take, and can i swap for a different size instead?")
    assert outcome.kind == "answer"
    assert len(outcome.sources) == 2
    assert "Can I exchange an item for a different size?" in outcome.sources


async def test_every_answer_passes_the_fact_check_against_what_it_cites(grounder):
    for question in ["how much is express shipping", "gift card amounts?", "where is the merino knitted",
                     "when is the portland studio open", "what sizes do the alder socks come in"]:
        outcome = await grounder.respond(GUILD, question)
        assert outcome.kind == "answer", question
        terms, hits = await grounder.retriever.retrieve(GUILD, question)
        cited = [h for h in hits if any(n in (h.stored.entry.key, h.stored.entry.title)
                                        for n in outcome.sources)]
        assert unsupported(outcome.text, sources_of(cited)) == [], question


def test_a_question_is_factual_when_it_asks_what_a_shop_would_know():
    assert is_factual("do you ship to Peru?", [], [])
    assert is_factual("I want to return my order", [], [])
    assert not is_factual("thanks, that helped!", [], [])


ZH_FAQ = """# 云织丝坊

我们是一家杭州的丝绸小店。

## 运费怎么算？

全场满199元包邮，不满199元收取运费12元。

## 多久发货？

付款后48小时内发货，节假日顺延。

## 可以退货吗？

收到商品7天内，未洗涤、吊牌完好可以退货，退回运费由买家承担。
"""


async def test_a_chinese_knowledge_base_answers_chinese_questions_in_its_own_words(db):
    kb = KnowledgeBase(db)
    await kb.import_document(GUILD, parse_document("faq.md", ZH_FAQ.encode()))
    grounder = Grounder(kb)
    outcome = await grounder.respond(GUILD, "满多少包邮啊")
    assert outcome.kind == "answer" and outcome.sources == ("运费怎么算？",)
    assert "全场满199元包邮" in outcome.text
    outcome = await grounder.respond(GUILD, "买了不喜欢能退吗")
    assert outcome.kind == "answer" and outcome.sources[0] == "可以退货吗？"
    assert "7天内" in outcome.text
    assert (await grounder.respond(GUILD, "你们有客服电话吗？")).kind == "decline"


async def test_a_trusted_model_whose_draft_fails_the_check_falls_back_to_the_quote(shop, local_model):
    grounder = Grounder(shop, local_model, trusted=True)
    outcome = await grounder.respond(GUILD, "what does the meadow dress cost?")
    assert outcome.kind == "answer"
    terms, hits = await grounder.retriever.retrieve(GUILD, "what does the meadow dress cost?")
    # Whatever the tiny random model wrote, what the member sees checks out.
    assert unsupported(outcome.text, sources_of(hits[:2])) == []
    assert "$128" in outcome.text or "Source: JP-102" in outcome.text


async def test_a_question_inside_a_statement_is_still_a_question(grounder):
    outcome = await grounder.respond(GUILD, "im short do the drift trousers come in a short leg")
    assert outcome.kind == "answer" and outcome.sources[0] == "JP-103"
