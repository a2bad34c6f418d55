"""The sentences that tell beside a question weigh less than the question."""

import pytest

from bot.grounding.questions import asides, is_question
from bot.grounding.retrieval import ASIDE_SHARE
from tests.bot.grounding.conftest import GUILD


@pytest.mark.parametrize(("message", "told"), [
    ("uk delivery time?? need it b4 my mums bday lol", {"mums", "bday"}),
    ("can i return a candle i lit once? smells weird tbh", {"smells", "weird"}),
    ("I bought the linen dress last week. Can I return it?", {"bought", "linen", "dress", "last", "week"}),
])
def test_the_words_of_a_telling_sentence_are_asides(message, told):
    assert asides(message) == told


@pytest.mark.parametrize("message", [
    "how long does shipping to canada take",       # one sentence
    "My order arrived damaged. What do I do?",     # the asking part has no words of its own
    "is the 1.5 kg bag whole bean?",                # a decimal point ends no sentence
    "the dress arrived torn and I'm upset",        # nothing asks
])
def test_a_message_is_weighed_whole_when_no_sentence_beside_a_question_tells(message):
    assert asides(message) == frozenset()


def test_a_chinese_a_not_a_question_is_a_question():
    assert is_question("卖不卖运费险") and is_question("有没有货")
    assert not is_question("不错，我很喜欢")


async def test_an_aside_weighs_less_and_the_question_is_answered(grounder):
    question = "canada delivery time?? need it b4 my sisters bday lol"
    terms, _ = await grounder.retriever.retrieve(GUILD, question)
    alone, _ = await grounder.retriever.retrieve(GUILD, "need it b4 my sisters bday")
    weight = {t.text: t.weight for t in alone}
    assert {t.text: t.weight for t in terms}["sisters"] == pytest.approx(ASIDE_SHARE * weight["sisters"])
    outcome = await grounder.respond(GUILD, question)
    assert outcome.kind == "answer" and "How long does shipping take?" in outcome.sources
    assert "7 to 14 working days" in outcome.text  # "delivery time" asks how long


@pytest.mark.parametrize("lead", [" ", "\t", "\u3000", "- "])
def test_a_message_of_blank_space_is_read_in_linear_time(lead):
    # A whole Discord message of leading space: nested quantifiers over it once took 20 s
    # for 800 spaces (and minutes for 2,000), on the event loop.
    assert not is_question((lead * 2000)[:1994] + "thanks")
