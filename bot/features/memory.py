"""Memory: facts members tell the bot (``bot.chat.memory``), and ``/memory``, ``/forget``.

The OBSERVE hook reads messages addressed to the bot and stores the facts in them before
the chat answer is written. Members see and clear their own facts; a moderator may name
another member, for support cases ("what does the bot think my size is?"). Facts are
member text, so they are defused like generated text before being shown.
"""

from __future__ import annotations

from bot.chat.memory import MemberMemory, extract_facts
from bot.core.commands import Command, Invocation, MemberRef, Option, OptionKind
from bot.core.feature import DataHooks, Feature, Services
from bot.core.pipeline import MessageEvent, MessageHook, Stage
from bot.core.replies import Reply
from bot.core.text import clean_text, sanitize
from bot.store import guild_key

MODERATORS_ONLY = "Only moderators can look at or clear another member's memory."


def _target(inv: Invocation) -> MemberRef | None:
    """Whose memory: the caller's own, or (moderators only) the named member's."""
    named: MemberRef | None = inv.get("member")
    if named is None or named.user_id == inv.caller.user_id:
        return MemberRef(inv.caller.user_id, inv.caller.name)
    return named if inv.caller.is_moderator else None


async def show_memory(memory: MemberMemory, inv: Invocation) -> Reply:
    who = _target(inv)
    if who is None:
        return Reply(MODERATORS_ONLY)
    facts = await memory.facts(guild_key(inv.caller.guild_id), who.user_id)
    yours = who.user_id == inv.caller.user_id
    if not facts:
        text = ("I don't remember anything about you yet." if yours
                else f"I don't remember anything about {who.name}.")
    else:
        head = "What I remember about you:" if yours else f"What I remember about {who.name}:"
        lines = [head, *(f"- {fact}" for fact in facts)]
        if yours:
            lines.append("Use /forget to clear it.")
        text = "\n".join(lines)
    return Reply(sanitize(text))


async def forget_memory(memory: MemberMemory, inv: Invocation) -> Reply:
    who = _target(inv)
    if who is None:
        return Reply(MODERATORS_ONLY)
    count = await memory.forget(guild_key(inv.caller.guild_id), who.user_id)
    whose = "about you" if who.user_id == inv.caller.user_id else f"about {who.name}"
    if not count:
        return Reply(sanitize(f"There was nothing to forget {whose}."))
    plural = "s" if count != 1 else ""
    return Reply(sanitize(f"Done: I forgot {count} thing{plural} I remembered {whose}."))


def setup(services: Services) -> Feature:
    memory = MemberMemory(services.db)

    async def remember(event: MessageEvent) -> None:
        msg = event.msg
        if not event.store or not await event.addressed():
            return
        facts = extract_facts(clean_text(msg.content))
        if facts:
            await memory.remember(msg.guild_key, msg.author_id, msg.author_name, facts,
                                  msg.message_id, msg.created_at)

    async def show(inv: Invocation) -> Reply:
        return await show_memory(memory, inv)

    async def forget(inv: Invocation) -> Reply:
        return await forget_memory(memory, inv)

    member = "Moderators only: {} this member's memory"
    return Feature(
        name="memory",
        hooks=(MessageHook(Stage.OBSERVE, remember),),
        commands=(
            Command("memory", "See what the bot remembers about you", show, options=(
                Option("member", OptionKind.MEMBER, member.format("see"), required=False),)),
            Command("forget", "Make the bot forget what it remembers about you", forget, options=(
                Option("member", OptionKind.MEMBER, member.format("clear"), required=False),)),
        ),
        data=DataHooks(covers=("member_facts.user_id",), export=memory.export,
                       delete=memory.forget),
    )
