"""The member-actions port: what moderation does to members and their messages, in
either adapter.

Discord implements it over discord.py (``Member.timeout``, ``Guild.kick``, ``Guild.ban``,
``TextChannel.purge``); the console over its simulated guild, printing what happened.
``standing`` is what the role-hierarchy check needs, ``bot_permissions`` what the bot
may do, so a command can say exactly which permission is missing before it tries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class ActionFailed(Exception):
    """The platform refused or could not carry out an action; the message says why."""


@dataclass(frozen=True)
class Standing:
    """A member's place in the guild: their highest role's position, and whether they
    own the guild or are a bot."""

    user_id: int
    top_role: int
    owner: bool = False
    bot: bool = False


class MemberActions(Protocol):
    async def standing(self, guild_id: int, user_id: int) -> Standing | None: ...

    async def bot_permissions(self, guild_id: int) -> frozenset[str]: ...

    async def timeout(self, guild_id: int, user_id: int, seconds: int | None, reason: str) -> None:
        """``seconds`` None lifts a timeout."""

    async def kick(self, guild_id: int, user_id: int, reason: str) -> None: ...

    async def ban(self, guild_id: int, user_id: int, delete_days: int, reason: str) -> None: ...

    async def unban(self, guild_id: int, user_id: int, reason: str) -> None: ...

    async def purge(self, guild_id: int, channel_id: int, limit: int, user_id: int | None,
                    reason: str) -> list[int]:
        """Delete, among the channel's (or thread's) ``limit`` newest messages, those by
        ``user_id`` (all of them when None); the ids deleted."""


class NoMemberActions:
    """Where no adapter can act (a benchmark, a script): every action is refused."""

    async def standing(self, guild_id: int, user_id: int) -> Standing | None:
        return None

    async def bot_permissions(self, guild_id: int) -> frozenset[str]:
        return frozenset()

    async def _refuse(self, *args, **kwargs) -> None:
        raise ActionFailed("this bot cannot act on members here")

    timeout = kick = ban = unban = purge = _refuse
