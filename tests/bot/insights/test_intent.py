"""The intent rules: what each intent means, and which wins when a message is two things."""

import pytest

from bot.insights.intent import INTENTS, intent


@pytest.mark.parametrize("text, sentiment, expected", [
    ("Do you ship to Portugal?", "neutral", "question"),
    ("why was I charged twice?", "neutral", "complaint"),  # a problem, asked as a question
    ("what sizes does the wool coat come in", "neutral", "question"),
    ("Three weeks and my parcel never arrived. Where is it??", "negative", "complaint"),
    ("The zip broke on the second wear", "negative", "complaint"),
    ("this is so disappointing honestly", "negative", "complaint"),
    ("Is the green one back in stock? I want to buy two", "neutral", "purchase"),
    ("adding the tote to my cart right now", "positive", "purchase"),
    ("where can I order the gift cards", "neutral", "purchase"),
    ("Absolutely love my new boots, the quality is amazing", "positive", "praise"),
    ("good morning everyone, lovely day", "positive", "other"),
    ("lol same", "neutral", "other"),
    ("", "neutral", "other"),
])
def test_rules(text, sentiment, expected):
    assert intent(text, sentiment) == expected


def test_a_long_message_is_linear_and_every_answer_is_an_intent():
    text = "a " * 50_000 + "?"
    assert intent(text, "neutral") in INTENTS
    assert intent("ok " * 10_000, "negative") == "complaint"
