"""Member actions in the simulated guild: the console's half of ``bot.core.members``.

The hierarchy is simple: the bot's role is on top, then the moderators' (``--mods``), then
everyone else's; nobody owns the guild. Actions change nothing on a real server: each one
prints a ``[server]`` line saying what Discord would have done, and a timed-out or banned
member is remembered for the session, as Discord would remember it: a timed-out member's
messages are refused until the timeout ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.console.output import ConsolePoster
from bot.console.world import BOT_ID, channel_name
from bot.core.members import ActionFailed, Standing

BOT_ROLE, MOD_ROLE, MEMBER_ROLE = 3, 2, 1
BOT_PERMISSIONS = frozenset({"moderate_members", "kick_members", "ban_members", "manage_messages"})


class ConsoleMembers:
    def __init__(self, print_line: Callable[[str], None], name_of: Callable[[int], str | None],
                 is_mod: Callable[[int], bool], poster: ConsolePoster) -> None:
        self._print = print_line
        self._poster = poster
        self._name = name_of
        self._is_mod = is_mod
        self.banned: set[int] = set()
        self.timed_out: dict[int, float] = {}  # user id -> until (time.monotonic())

    async def standing(self, guild_id: int, user_id: int) -> Standing | None:
        if user_id == BOT_ID:
            return Standing(user_id, BOT_ROLE, bot=True)
        if self._name(user_id) is None or user_id in self.banned:
            return None
        return Standing(user_id, MOD_ROLE if self._is_mod(user_id) else MEMBER_ROLE)

    async def bot_permissions(self, guild_id: int) -> frozenset[str]:
        return BOT_PERMISSIONS

    def muted(self, user_id: int) -> bool:
        """Is the member timed out now? (Discord refuses their messages meanwhile.)"""
        return self.timed_out.get(user_id, 0.0) > time.monotonic()

    def _who(self, user_id: int) -> str:
        return self._name(user_id) or str(user_id)

    async def timeout(self, guild_id: int, user_id: int, seconds: int | None, reason: str) -> None:
        if seconds is None:
            self.timed_out.pop(user_id, None)
            self._print(f"[server] {self._who(user_id)}'s timeout was lifted: {reason}")
        else:
            self.timed_out[user_id] = time.monotonic() + seconds
            self._print(f"[server] {self._who(user_id)} is timed out for {seconds // 60} minutes: {reason}")

    async def kick(self, guild_id: int, user_id: int, reason: str) -> None:
        self._print(f"[server] {self._who(user_id)} was kicked: {reason}")

    async def ban(self, guild_id: int, user_id: int, delete_days: int, reason: str) -> None:
        self.banned.add(user_id)
        days = f", their last {delete_days} days of messages deleted" if delete_days else ""
        self._print(f"[server] {self._who(user_id)} was banned{days}: {reason}")

    async def unban(self, guild_id: int, user_id: int, reason: str) -> None:
        if user_id not in self.banned:
            raise ActionFailed("that user is not banned")
        self.banned.discard(user_id)
        self._print(f"[server] {self._who(user_id)} was unbanned: {reason}")

    async def purge(self, guild_id: int, channel_id: int, limit: int, user_id: int | None,
                    reason: str) -> list[int]:
        gone = self._poster.take(channel_id, limit, user_id)
        whose = f" by {self._who(user_id)}" if user_id is not None else ""
        self._print(f"[server] {len(gone)} messages{whose} deleted in #{channel_name(channel_id)}: {reason}")
        return [p.message_id for p in gone]
