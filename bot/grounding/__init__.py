"""Grounded answers: what the bot says to a factual question is either a fact its shop's
knowledge base holds, with its source, or an honest "I don't know" and an offer of a team
member. ``answerer`` decides, ``retrieval`` finds and scores the entries, ``compose``
writes replies from their own words, ``facts`` checks any other reply against them.
"""

from bot.grounding.answerer import ANSWER_THRESHOLD, Grounder, Outcome
from bot.grounding.facts import Source, Unsupported, unsupported

__all__ = ["ANSWER_THRESHOLD", "Grounder", "Outcome", "Source", "Unsupported", "unsupported"]
