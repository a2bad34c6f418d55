"""Places in questions and entries: a city or a state is held by the country or the
continent an entry names, and a question about shipping somewhere the shop never names
is declined. Worded unlike bench/data's question sets."""

import pytest

from bot.grounding import Grounder, places
from bot.grounding.answerer import unlisted_place
from bot.grounding.retrieval import Retriever
from bot.kb import KnowledgeBase
from bot.kb.files import parse_document
from tests.bot.grounding.conftest import GUILD


@pytest.mark.parametrize(("text", "place", "ids"), [
    ("can you send it to osaka?", "osaka", {"country:JP", "continent:AS"}),
    ("I live in Oregon", "oregon", {"state:US-OR", "country:US"}),
    ("posting to the states?", "the states", {"country:US"}),
    ("delivery to NZ", "nz", {"country:NZ", "continent:OC"}),
    ("shipping to new zealand", "new zealand", {"country:NZ"}),
    ("ordering from munich", "munich", {"country:DE", "continent:EU"}),
])
def test_a_place_a_member_names_carries_the_places_it_lies_in(text, place, ids):
    found = places.find(text)
    assert [p.name for p in found] == [place]
    assert ids <= found[0].ids


@pytest.mark.parametrize("text", ["contact us today", "is there a size chart in cm",
                                  "the cotton jersey tee", "a panama hat", "can i ring you"])
def test_words_that_only_look_like_places_are_not_places(text):
    assert places.find(text) == []


def test_an_entry_names_only_the_places_written_in_it():
    assert places.named("Standard shipping within the US takes 3 days") == {"country:US"}
    assert places.named("Email us and we reply the same day") == frozenset()
    assert places.named("We ship to most of Europe and to Japan") == {"continent:EU", "country:JP"}
    assert places.named("We ship worldwide") == {places.WORLD}


@pytest.mark.parametrize(("question", "source"), [
    ("can you send stuff to osaka", "Do you ship internationally?"),
    ("do you post to munich?", "Do you ship internationally?"),
    ("I'm in Oregon, is standard postage free over some amount?", "How much does shipping cost?"),
])
async def test_a_city_or_state_finds_the_entry_naming_its_country_or_continent(grounder, question, source):
    outcome = await grounder.respond(GUILD, question)
    assert outcome.kind == "answer"
    assert outcome.sources[0] == source


@pytest.mark.parametrize("question", ["do you deliver to argentina?", "can I order from nigeria",
                                      "shipping to mumbai possible?"])
async def test_shipping_to_a_place_the_shop_never_names_is_declined(grounder, question):
    assert (await grounder.respond(GUILD, question)).kind == "decline"


async def test_a_shop_that_ships_worldwide_answers_for_any_place(db):
    kb = KnowledgeBase(db)
    await kb.import_document(GUILD, parse_document(
        "faq.md", b"## Where do you ship?\n\nWe ship worldwide with tracked post.\n"))
    outcome = await Grounder(kb).respond(GUILD, "do you ship to argentina?")
    assert outcome.kind == "answer"


async def test_a_place_that_is_not_a_destination_is_left_to_the_words(shop):
    retriever = Retriever(shop)
    vocab = await retriever.vocabulary(GUILD)
    terms = retriever.terms("is the merino knitted in peru?", vocab)
    assert any(t.place for t in terms)
    assert not unlisted_place("is the merino knitted in peru?", terms, vocab.destinations)
    terms = retriever.terms("do you ship to peru?", vocab)
    assert unlisted_place("do you ship to peru?", terms, vocab.destinations)



async def test_only_shipping_entries_say_where_the_shop_ships(db):
    kb = KnowledgeBase(db)
    await kb.import_document(GUILD, parse_document("faq.md", (
        b"## Do you ship abroad?\n\nYes, we ship internationally to most countries.\n\n"
        b"## Where are the mugs made?\n\nOur mugs are thrown in Portugal.\n")))
    outcome = await Grounder(kb).respond(GUILD, "do you ship to canada?")
    assert outcome.kind == "answer" and outcome.sources == ("Do you ship abroad?",)
