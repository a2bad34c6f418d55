"""Dense similarity: WordLlama's bundled model, loaded without a download, and how its
similarity takes part in finding and scoring entries."""

import numpy as np
import pytest

from bot.grounding import Grounder, dense
from bot.grounding.retrieval import DENSE_WEIGHT, LEXICAL_SIMILARITY, Retriever
from bot.kb import KnowledgeBase
from bot.kb.files import parse_document
from tests.bot.grounding.conftest import GUILD
from tests.bot.grounding.test_answerer import ZH_FAQ

FAQ = """## Do you ship internationally?
We deliver to Canada, the UK and Australia; customs fees are paid on arrival.

## How do I wash linen?
Machine wash cold and line dry.

## What are your opening hours?
The studio is open Saturdays from 10:00 to 16:00.
"""


def test_vectors_are_unit_length_and_a_paraphrase_is_closer_than_another_topic():
    v = dense.embed(["Do you ship internationally?", "can my order be delivered abroad",
                     "How do I wash linen?", ""])
    assert v.shape == (4, dense.DIM) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v[:3], axis=1), 1.0, atol=1e-4)
    assert v[0] @ v[1] > v[0] @ v[2]
    assert not np.isnan(v).any()
    assert dense.embed([]).shape == (0, dense.DIM)


@pytest.fixture
async def small_shop(db):
    kb = KnowledgeBase(db)
    await kb.import_document(GUILD, parse_document("faq.md", FAQ.encode()))
    return kb


@pytest.mark.parametrize("question, title", [
    ("could my parcel reach japan?", "Do you ship internationally?"),
    ("laundry tips for my flax shirt", "How do I wash linen?"),
])
async def test_an_entry_sharing_no_word_is_found_by_meaning_but_not_taken_as_the_answer(
        small_shop, question, title):
    terms, hits = await Retriever(small_shop).retrieve(GUILD, question)
    assert hits[0].stored.entry.title == title and not hits[0].matched
    assert hits[0].score == pytest.approx(DENSE_WEIGHT * hits[0].similarity)
    # Meaning alone is not enough to state a shop's fact: no answer quotes the entry.
    assert (await Grounder(small_shop).respond(GUILD, question)).kind != "answer"


async def test_entries_rank_by_coverage_plus_similarity(shop):
    terms, hits = await Retriever(shop).retrieve(GUILD, "how long do refunds take to come through")
    scores = [round(h.score, 6) for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert hits[0].stored.entry.title == "How long do refunds take?"


async def test_a_chinese_question_is_scored_by_coverage_alone(db):
    kb = KnowledgeBase(db)
    await kb.import_document(GUILD, parse_document("faq.md", ZH_FAQ.encode()))
    terms, hits = await Retriever(kb).retrieve(GUILD, "多久发货呀")
    assert hits and all(h.similarity == LEXICAL_SIMILARITY for h in hits)
    assert hits[0].stored.entry.title == "多久发货？"
