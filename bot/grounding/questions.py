"""Which parts of a message ask, and which tell.

A member's message is often a question with a story beside it: "uk delivery time?? need
it b4 my mums bday lol", "can i return a candle i lit once? smells weird tbh". The story's
words ("mums", "bday", "weird") are rare and weigh much in retrieval, yet no entry holds
them, so they dilute how much of the question the right entry covers. ``asides`` names
the words that appear only in the sentences that do not ask, so that retrieval can weigh
them less (``retrieval.ASIDE_SHARE``).
"""

from __future__ import annotations

import re

from bot.kb.terms import query_terms

# One ``\W*`` for what leads (spaces, emoji, punctuation): two nested ones backtracked
# for seconds on a message of a few hundred spaces.
_QUESTION_START = re.compile(
    r"^\W*(?:(?:hi|hey|hello|yo|hiya)\b[\s,!.]*)?(?:how|what(?! an? )|whats|when|where|which|"
    r"who|why|is|are|do|does|did|can|could|will|would|should|any|anyone|wheres|hows|whens)\b",
    re.IGNORECASE)
_WH_WORD = re.compile(r"\b(?:how|what(?! an? )|whats|when|whens|where|wheres|which|why)\b",
                      re.IGNORECASE)  # not "what a great shop"
# A question asked mid-sentence without a comma: "im 6'4 do ur trousers come long".
# Not "is the" or "they are the": praise says those ("the refund is the fastest ever").
_ASKS_INSIDE = re.compile(r"\b(?:do|does|can|could|will|would)\s+(?:u|you|ur|your|ya|they|the|it|these|"
                          r"those|i|we)\b|\b(?:is|are)\s+(?:u|you|ya|there)\b", re.IGNORECASE)
_CLAUSE = re.compile(r"[,.;:!&]+|\b(?:and|but|or|so|lol)\b", re.IGNORECASE)
# A-not-A ("卖不卖", "有没有", "可不可以") asks as 吗 does.
_CJK_QUESTION = re.compile(r"[吗呢？?啥咋]|多少|怎么|什么|哪|几|是否|([\u4e00-\u9fff])[不没]\1")
# A sentence ends at its mark ("time?? need it"), a line break or a laugh.
_SENTENCE = re.compile(r"(?<=[?!？！。])|(?<=\.)\s+|\n+|\b(?:lol|lmao|haha|tbh)\b", re.IGNORECASE)


def is_question(text: str) -> bool:
    """A question mark, a question word anywhere ("ordered sunday, when does it ship"), a
    clause opening like a question ("do u ship to canada", "... , can i swap it") or one
    asked inside a sentence ("im 6'4 do ur trousers come long")."""
    return ("?" in text or "？" in text or bool(_WH_WORD.search(text)) or bool(_ASKS_INSIDE.search(text))
            or any(_QUESTION_START.match(clause) for clause in _CLAUSE.split(text))
            or bool(_CJK_QUESTION.search(text)))


def asides(text: str) -> frozenset[str]:
    """The content words of the sentences that tell, when another sentence asks and has
    words of its own; else nothing (a message that only tells, or one whose asking part is
    "what do I do?", is weighed whole)."""
    parts = [p for p in _SENTENCE.split(text) if p and p.strip()]
    asking = [p for p in parts if is_question(p)]
    if len(asking) == len(parts) or not asking:
        return frozenset()
    asked = {w for p in asking for w in query_terms(p)}
    if not asked:
        return frozenset()
    return frozenset(w for p in parts if p not in asking for w in query_terms(p)) - asked
