"""How a question's words meet the shop's: dictionary forms and time-of-day questions."""

from bot.grounding.retrieval import Retriever, has_clock
from bot.grounding.wording import lemmas, unabbreviated
from tests.bot.grounding.conftest import GUILD


def test_an_inflected_word_is_matched_in_its_dictionary_form():
    assert "send" in lemmas("sent") and "wear" in lemmas("wore") and "big" in lemmas("bigger")
    assert lemmas("linen") == ()


def test_a_time_of_day_is_told_from_a_duration():
    assert has_clock("before 1 pm Pacific") and has_clock("9:00 to 16:00") and has_clock("10.30am")
    assert not has_clock("3 to 5 working days") and not has_clock("wash at 30 °C")


async def test_opening_hours_are_held_by_an_entry_stating_a_time(shop):
    retriever = Retriever(shop)
    terms, hits = await retriever.retrieve(GUILD, "what hours is the portland studio open")
    assert hits[0].stored.entry.title == "Do you have a physical shop?"
    assert hits[0].coverage == 1.0


async def test_shopping_idioms_and_place_kinds_meet_the_shops_words(grounder):
    cases = {"i want to send these back, whats the policy": "What is your return policy?",
             "my order has not turned up yet, what now?": "My order hasn't arrived. What should I do?",
             "what city is the studio in": "Do you have a physical shop?"}
    for question, source in cases.items():
        outcome = await grounder.respond(GUILD, question)
        assert outcome.kind == "answer" and outcome.sources[0] == source, question


async def test_a_known_word_also_meets_its_synonyms(shop):
    # The shop writes "answers" (a member "reply"), and both "shipping" and "delivery".
    retriever = Retriever(shop)
    terms, hits = await retriever.retrieve(GUILD, "what hours does support reply")
    assert hits[0].stored.entry.title == "How do I contact a person?" and hits[0].coverage == 1.0
    terms, _ = await retriever.retrieve(GUILD, "how much is delivery")
    assert {"deliveri", "ship"} <= next(t.stems for t in terms if t.text == "delivery")


async def test_a_delivery_time_is_a_duration_and_send_a_new_one_a_replacement(shop):
    retriever = Retriever(shop)
    terms, _ = await retriever.retrieve(GUILD, "whats the delivery time to canada")
    assert any(t.duration for t in terms)
    terms, _ = await retriever.retrieve(GUILD, "parcel lost, will u send a new one?")
    assert "replacement" in {t.text for t in terms}


def test_chat_shorthand_is_read_as_the_word_it_stands_for():
    assert unabbreviated("we're 8 ppl, need it tmrw for my gf's bday") == \
        "we're 8 people, need it tomorrow for my girlfriend's birthday"
    assert unabbreviated("happy to help") == "happy to help"  # no word inside a word
