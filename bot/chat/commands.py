"""Member commands: ``memory`` shows what the bot remembers about you, ``forget`` clears it.

Plain async functions returning the text to show privately (an ephemeral response on
Discord, a line in the console). Members act on themselves; a moderator may name another
member, for support cases ("what does the bot think my size is?"). Facts are member
text, so they are defused like generated text before being shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.chat.events import Caller
from bot.chat.memory import DM_GUILD, MemberMemory
from bot.chat.streaming import sanitize
from bot.chat.text import DISCORD_LIMIT

MODERATORS_ONLY = "Only moderators can look at or clear another member's memory."


@dataclass(frozen=True)
class Target:
    user_id: int
    name: str


def _resolve(caller: Caller, target: Target | None) -> tuple[Target | None, str | None]:
    if target is None or target.user_id == caller.user_id:
        return Target(caller.user_id, caller.name), None
    if not caller.is_moderator:
        return None, MODERATORS_ONLY
    return target, None


def _guild(caller: Caller) -> int:
    return DM_GUILD if caller.guild_id is None else caller.guild_id


async def show_memory(memory: MemberMemory, caller: Caller, target: Target | None = None) -> str:
    who, refusal = _resolve(caller, target)
    if who is None:
        return refusal
    facts = await memory.facts(_guild(caller), who.user_id)
    yours = who.user_id == caller.user_id
    if not facts:
        text = ("I don't remember anything about you yet." if yours
                else f"I don't remember anything about {who.name}.")
    else:
        head = "What I remember about you:" if yours else f"What I remember about {who.name}:"
        lines = [head, *(f"- {fact}" for fact in facts)]
        if yours:
            lines.append("Use /forget to clear it.")
        text = "\n".join(lines)
    return _fit(sanitize(text))


async def forget_memory(memory: MemberMemory, caller: Caller, target: Target | None = None) -> str:
    who, refusal = _resolve(caller, target)
    if who is None:
        return refusal
    count = await memory.forget(_guild(caller), who.user_id)
    whose = "about you" if who.user_id == caller.user_id else f"about {who.name}"
    if not count:
        return sanitize(f"There was nothing to forget {whose}.")
    return sanitize(f"Done: I forgot {count} thing{'s' if count != 1 else ''} I remembered {whose}.")


def _fit(text: str) -> str:
    return text if len(text) <= DISCORD_LIMIT else text[: DISCORD_LIMIT - 1] + "…"
