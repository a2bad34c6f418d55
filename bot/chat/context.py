"""Prompt assembly: what the model sees, fitted to its context window.

The budget is the context window minus the answer's ``max_new_tokens``, and the prompt is
counted exactly, through the model's own chat template (``count_prompt``): whatever BOS,
role headers and end-of-turn tokens that template adds. Choosing turns uses an estimate
(each text's tokens plus the template's measured cost per turn), and the exact count has
the last word: the least relevant history turns are dropped until it fits. Two parts are always kept: the system turn (persona plus the
member's profile) and the message being answered. If they overflow, the message is first
cut to half the budget (keeping its end, where the question usually is), then the oldest
facts go, and only then is the persona cut; so neither a huge message nor a huge persona
can crowd the other out.

History fills what is left, by source in order of relevance: the reply chain or thread,
then the channel's recent messages, then the member's own recent messages elsewhere in
the guild. Within a source the newest turns go in first, so when room runs out the
oldest are dropped. The chosen turns are then put back in time order. The bot's own
messages become assistant turns; everyone else's are user turns prefixed with the
author's name, since a channel is a group conversation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.core.messages import Incoming
from bot.chat.memory import render_profile
from bot.core.text import clean_text
from bot.store import Archive, ArchivedMessage

NAMES_NOTE = "Members' messages start with their name."
TURN_CHARS = 800  # one history message in the prompt; longer ones are cut
# sentencepiece's default max_piece_length; a byte-level BPE token can be longer, and then
# the tail below merely holds fewer tokens than it could.
MAX_PIECE_CHARS = 16


def user_turn(name: str, content: str) -> str:
    return f"{name}: {content}"


def upset_note(name: str) -> str:
    """Said to the model when the message being answered is negative (insights feature)."""
    return (f"{name} is upset. Begin with a short, sincere apology for the trouble, then say "
            "concretely what they can do next. Keep it calm and kind; do not joke or argue.")


def system_prompt(persona: str, profile: str, mood: str = "") -> str:
    return "\n\n".join(part for part in (persona, NAMES_NOTE, profile, mood) if part)


def fit(text: str, max_tokens: int, count: Callable[[str], int], *, keep_end: bool = False) -> str:
    """The longest start (or end) of ``text`` within ``max_tokens``, by binary search."""
    if count(text) <= max_tokens:
        return text
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        part = text[-mid:] if keep_end else text[:mid]
        if count(part) <= max_tokens:
            low = mid
        else:
            high = mid - 1
    return (text[-low:] if keep_end else text[:low]) if low else ""


def assemble(
    *,
    persona: str,
    name: str,
    facts: Sequence[str],
    history: Sequence[Sequence[ArchivedMessage]],
    current: str,
    bot_user_id: int,
    budget: int,
    count: Callable[[str], int],
    count_prompt: Callable[[Sequence[tuple[str, str]]], int],
    upset: bool = False,
) -> list[tuple[str, str]]:
    """Build the chat messages for one answer; see the module docstring for the rules.
    ``upset``: the member's message is negative, and the system turn says so."""
    pair = [("user", "x"), ("assistant", "x")]  # roles alternate: llama2 joins a run of one role
    per_turn = max((count_prompt(pair * 2) - count_prompt(pair)) // 2 - count("x"), 0)
    budget_in = budget
    budget -= count_prompt([])  # BOS and the generation prompt

    def cost(text: str) -> int:
        return count(text) + per_turn

    facts = list(facts)
    mood = upset_note(name) if upset else ""
    system = system_prompt(persona, render_profile(name, facts), mood)
    question = user_turn(name, current)
    if cost(question) > budget // 2:
        room = max(budget // 2 - cost(user_turn(name, "…")), 0)
        # No token spans more than MAX_PIECE_CHARS characters, so this tail holds at least
        # ``room`` tokens: fitting it is as good as fitting the whole, and much faster.
        tail = current[-room * MAX_PIECE_CHARS:] if room else ""
        question = user_turn(name, "…" + fit(tail, room, count, keep_end=True))
    while facts and cost(system) + cost(question) > budget:
        facts.pop(0)
        system = system_prompt(persona, render_profile(name, facts), mood)
    if cost(system) + cost(question) > budget:
        system = fit(system, max(budget - cost(question) - per_turn, 0), count)

    remaining = budget - cost(system) - cost(question)
    chosen: dict[int, tuple[str, str]] = {}
    for source in history:
        for message in reversed(source):
            if message.message_id in chosen or not message.content.strip():
                continue
            turn = _turn(message, bot_user_id)
            needed = cost(turn[1])
            if needed > remaining:
                break
            chosen[message.message_id] = turn
            remaining -= needed
    return _exact_fit(system, question, list(chosen.items()), budget_in, count, count_prompt)


def _exact_fit(system: str, question: str, chosen: list[tuple[int, tuple[str, str]]], budget: int,
               count: Callable[[str], int],
               count_prompt: Callable[[Sequence[tuple[str, str]]], int]) -> list[tuple[str, str]]:
    """The most history turns, in the order they were chosen (most relevant first), whose
    prompt fits by the template's exact count: a binary search, since each count encodes
    the whole prompt. Then, rarely (the estimate was off on the two kept turns), the
    system turn is cut by the excess."""

    def prompt(k: int) -> list[tuple[str, str]]:
        turns = [turn for _, turn in sorted(chosen[:k])]  # back in time order
        return [("system", system), *turns, ("user", question)]

    low, high = 0, len(chosen)
    while low < high:
        mid = (low + high + 1) // 2
        if count_prompt(prompt(mid)) <= budget:
            low = mid
        else:
            high = mid - 1
    messages = prompt(low)
    while (excess := count_prompt(messages) - budget) > 0 and messages[0][1]:
        system = messages[0][1]
        messages[0] = ("system", fit(system, max(count(system) - excess, 0), count))
    return messages


def _turn(message: ArchivedMessage, bot_user_id: int) -> tuple[str, str]:
    content = clean_text(message.content)
    if len(content) > TURN_CHARS:
        content = content[:TURN_CHARS] + "…"
    if message.author_id == bot_user_id:
        return ("assistant", content)
    return ("user", user_turn(message.author_name or "someone", content))


async def fetch_history(
    archive: Archive, msg: Incoming, limit: int
) -> list[list[ArchivedMessage]]:
    """The history sources for ``msg``, most relevant first, each oldest first, holding
    only messages older than ``msg``."""
    sources: list[list[ArchivedMessage]] = []
    if msg.reply_to_id is not None:
        sources.append(await archive.reply_chain(msg.reply_to_id, limit))
    if msg.thread_id is not None:
        starter = await archive.reply_chain(msg.thread_id, limit)
        sources.append(starter + await archive.thread(msg.thread_id, limit + 1))
    else:
        sources.append(await archive.recent(msg.channel_id, limit, before_id=msg.message_id))
    sources.append(await archive.by_author(msg.guild_key, msg.author_id, limit // 2 + 1))
    return [[m for m in source if m.message_id < msg.message_id] for source in sources]


def budget_for(context_window: int, max_new_tokens: int) -> int:
    return context_window - max_new_tokens
