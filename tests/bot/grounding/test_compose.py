"""Answers in the entries' own words: what a product answer shows, and "we ship nowhere
else" as the answer to a place the shop does not list."""

import pytest

from tests.bot.grounding.conftest import GUILD

@pytest.mark.parametrize(("question", "shown"), [
    ("how heavy is the tidepool candle", "200 g"),            # heavy: the shop writes weight
    ("what does the tidepool candle smell like", "sea salt"),  # smell: scent
    ("cedar soap dish dimensions?", "12 x 8 cm"),              # dimensions: size
    ("what wood is the soap dish made of", "white cedar"),     # no word for it: every attribute
    ("tidepool candle, whats in it", "40 hours"),              # only its name: the whole card
])
async def test_a_product_answer_shows_the_attribute_asked_about(tidepool, question, shown):
    outcome = await tidepool.respond(GUILD, question)
    assert outcome.kind == "answer" and shown in outcome.text


async def test_a_price_question_gets_the_price_without_every_attribute(tidepool):
    outcome = await tidepool.respond(GUILD, "how much is the tidepool candle?")
    assert "$24.00" in outcome.text and "40 hours" not in outcome.text


async def test_a_question_asking_one_attribute_shows_that_one(tidepool):
    outcome = await tidepool.respond(GUILD, "how heavy is the tidepool candle")
    assert "Weight: 200 g." in outcome.text and "40 hours" not in outcome.text


@pytest.mark.parametrize("question", ["do you ship to germany?", "can i order from brazil"])
async def test_a_list_of_destinations_that_is_the_whole_list_answers_no(tidepool, question):
    outcome = await tidepool.respond(GUILD, question)
    assert outcome.kind == "answer" and outcome.sources == ("Which countries do you ship to?",)
    assert "do not ship to any other countries" in outcome.text


async def test_a_list_that_may_not_be_whole_is_no_answer(grounder):
    # The demo shop ships "to most countries in Europe, to Canada, ...": Brazil is unsaid.
    assert (await grounder.respond(GUILD, "do you ship to brazil")).kind == "decline"
