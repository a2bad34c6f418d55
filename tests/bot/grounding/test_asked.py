"""Questions whose answer has a shape are answered only from entries holding one."""

import pytest

from bot.grounding.asked import unanswered_kind
from tests.bot.grounding.conftest import GUILD

STUDIO = "Our studio in Portland is open for fittings on Saturdays from 10 am to 4 pm."


@pytest.mark.parametrize(("question", "entry", "kind"), [
    ("what's the studio's phone number", STUDIO, "phone"),
    ("can i call you", STUDIO, "phone"),
    ("what is the full address of the studio", STUDIO, "address"),
    ("what are the dimensions of the blanket", "A large throw in undyed wool.", "measurements"),
    ("how much does the jacket weigh", "Waxed cotton canvas with a corduroy collar.", "weight"),
    ("where is my order #58213, it hasn't arrived", "Orders ship the same working day.", "order"),
    ("is the house blend sold in a 1kg bag?", "House blend, 250 g, whole bean.", "amount"),
    ("will a 16 inch laptop fit in the tote", "fits: a 15 inch laptop", "amount"),
    ("你们有客服电话吗", "邮箱 help@shop.example", "phone"),
    ("when will the blue one be back in stock", "Sold out; sign up to be notified.", "date"),
    ("when is the vase back in stock?", "Vase, price 60.00 USD, sold out.", "date"),  # a price is no date
])
def test_a_shaped_question_is_not_answered_by_an_entry_without_that_shape(question, entry, kind):
    assert unanswered_kind(question, [entry]) == kind


@pytest.mark.parametrize(("question", "entry"), [
    ("what's the studio's phone number", "Call us on +1 (503) 555-0142 on weekdays."),
    ("what is the full address of the studio", "Visit us at 12 Alder Street, Portland."),
    ("what are the dimensions of the blanket", "It measures 130 x 180 cm."),
    ("how much does the jacket weigh", "It weighs 850 g."),
    ("how do I return order 58213?", "Returns are free within 30 days."),  # a policy question
    ("can someone suggest a size if I give my height", "Tell us your height and usual size."),
    ("how long does shipping take", "Standard shipping takes 3 to 5 days."),
    ("will a 15 inch laptop fit in the tote", "fits: a 15 inch laptop"),
    ("is the 250g bag whole bean?", "House blend, 250 g, whole bean."),
    ("do you have size 10 M or 15 in stock", "Sizes 6 to 16."),  # sizes, not amounts
    ("is the candle 250 g?", "weight: 250 grams"),                # one unit, two spellings
    ("I'm 185 cm and between two sizes, which one?", "Pick the larger size."),  # the member's own
    ("do you have any tips for washing linen?", "Wash linen cool."),
    ("when will the blue one be back in stock", "Restocks land every Friday."),
])
def test_an_entry_with_the_shape_or_a_question_without_one_passes(question, entry):
    assert unanswered_kind(question, [entry]) is None


async def test_the_studio_entry_does_not_answer_its_phone_number(grounder):
    outcome = await grounder.respond(GUILD, "what's the phone number of the portland studio?")
    assert outcome.kind == "decline"
    outcome = await grounder.respond(GUILD, "when is the portland studio open?")
    assert outcome.kind == "answer"


@pytest.mark.parametrize(("question", "kind"), [
    ("do you offer gift wrap?", "decline"),          # the gift-card answer is not about it
    ("do you sell leather belts?", "decline"),
    ("do you sell gift cards", "answer"),
    ("do you do petite sizes", "answer"),
    ("do they have pockets, the drift trousers", "answer"),  # about a product, not the shop
])
async def test_do_you_sell_is_answered_only_by_an_entry_about_the_thing(grounder, question, kind):
    assert (await grounder.respond(GUILD, question)).kind == kind
