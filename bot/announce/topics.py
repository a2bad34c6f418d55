"""Discussion topics grounded in what members have been talking about.

``themes`` finds what a channel's recent member messages keep coming back to: words said
by more than one member, weighted by how unusual they are in general English (wordfreq),
so "linen" and "restock" rise above "really" and "thanks". The model then turns the themes
into a few questions for the community; each question must pass the fact check against
the members' own messages (a question must not bring a price or a date nobody said) and
the output guards. Questions that fail are dropped; when none is left, plain questions
about the top themes are the draft.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Sequence

from wordfreq import zipf_frequency

from bot.core.pipeline import OutputCheck, Pipeline
from bot.core.text import sanitize
from bot.grounding.facts import Source, unsupported
from bot.kb.terms import STOP_WORDS
from bot.model import Busy, ChatModel, ChatRequest
from bot.store import ArchivedMessage

log = logging.getLogger(__name__)

MAX_THEMES, MAX_TOPICS = 6, 3
TOPIC_TOKENS, TOPIC_TIMEOUT_S = 160, 120.0
SYSTEM = ("You help a shop's Discord community talk. Write exactly three short, friendly "
          "discussion questions for members, one per line, each ending with a question "
          "mark, about the themes given. Add no price, date, number or promise.")
_WORD = re.compile(r"[^\W\d_][\w'-]{2,}")
_MENTION = re.compile(r"<[@#][!&]?\d+>|@\w+")
_NUMBERING = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s*")
FALLBACKS = ("What do you think about {}?", "Any tips to share about {}?",
             "What would you like to see next for {}?")


def themes(messages: Sequence[ArchivedMessage], limit: int = MAX_THEMES) -> list[str]:
    """The words most members kept using, most telling first (at least two members or
    two messages each)."""
    authors: dict[str, set[int]] = {}
    counts: Counter[str] = Counter()
    for message in messages:
        if message.is_bot:
            continue
        words = {w.lower().strip("'-") for w in _WORD.findall(_MENTION.sub(" ", message.content))}
        for word in words - STOP_WORDS:
            authors.setdefault(word, set()).add(message.author_id)
            counts[word] += 1
    scored = []
    for word, n in counts.items():
        if n < 2 or len(word) < 3:
            continue
        rarity = max(0.5, 7.0 - zipf_frequency(word, "en"))
        scored.append((len(authors[word]) * rarity + 0.1 * n, word))
    return [word for _, word in sorted(scored, reverse=True)[:limit]]


def questions(answer: str) -> list[str]:
    """The question lines of a model's answer, numbering and bullets removed."""
    out = []
    for line in answer.splitlines():
        line = _NUMBERING.sub("", line).strip().strip('"')
        if line.endswith("?") and 8 <= len(line) <= 200:
            out.append(sanitize(line))
    return out[:MAX_TOPICS]


class TopicWriter:
    def __init__(self, model: ChatModel, pipeline: Pipeline) -> None:
        self._model = model
        self._pipeline = pipeline

    async def write(self, found: list[str], said: Sequence[str], guild: int,
                    channel: int) -> tuple[list[str], str]:
        """(questions, why the model's were not used: "" when some were). Raises ``Busy``."""
        source = Source("\n".join(said))
        why = ""
        try:
            answer = await self._model.complete(ChatRequest(
                [("system", SYSTEM), ("user", "Themes: " + ", ".join(found))],
                max_new_tokens=TOPIC_TOKENS, temperature=0.8,
                deadline=time.monotonic() + TOPIC_TIMEOUT_S))
        except Busy:
            raise
        except Exception:
            log.exception("topic questions failed")
            answer, why = "", "the model failed"
        kept = []
        for question in questions(answer):
            if unsupported(question, [source]):
                continue
            if await self._pipeline.check_output(OutputCheck(question, guild, channel, "draft")):
                continue
            kept.append(question)
        if kept:
            return kept, ""
        return ([template.format(theme) for template, theme in zip(FALLBACKS, found)],
                why or "none of its questions passed the checks")


def post_text(topics: Sequence[str]) -> str:
    return "Let's talk! A few questions for this week:\n" + "\n".join(f"• {t}" for t in topics)
