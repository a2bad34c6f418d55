"""When the bot answers, in which voice, and how often.

It answers a member when:
  * it is a direct message, the bot is mentioned, or the message replies to the bot;
  * the message is in a thread the bot already took part in (the thread continues its
    conversation; a thread started from a bot message counts);
  * the channel says so: a ``channel_settings.answer`` row wins, else the guild's
    ``guild_settings.answer_channels``, else ``ANSWER_CHANNELS``. Threads follow their
    parent channel.
Messages from bots, including itself, are never answered.

Limits, and what a member sees when they hit one:
  * per-member cooldown (``MEMBER_COOLDOWN_S``, counted from the start of their last
    answer): one short note per cooldown window, then silence, so a member who repeats
    themselves learns why without the bot spamming the channel;
  * per-conversation concurrency (``CHANNEL_CONCURRENCY`` answers at once in a channel or
    thread): a short note. Answers are not queued, because an answer that arrives long
    after the conversation moved on is more confusing than a request to ask again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import AnswerChannels, ConfigError, parse_answer_channels
from bot.store import Database

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Overrides:
    """Per-guild and per-channel settings from the database; None means "not set"."""

    persona: str | None = None
    channel_answer: bool | None = None
    guild_answer_channels: AnswerChannels | None = None


async def load_overrides(db: Database, guild_id: int | None, channel_id: int) -> Overrides:
    """The channel's and guild's overrides (a channel persona beats the guild's)."""
    if guild_id is None:
        return Overrides()
    row = await db.fetchone(
        "SELECT c.persona, c.answer, g.persona, g.answer_channels FROM (SELECT 1) "
        "LEFT JOIN channel_settings c ON c.channel_id = ? "
        "LEFT JOIN guild_settings g ON g.guild_id = ?",
        (channel_id, guild_id),
    )
    channel_persona, channel_answer, guild_persona, guild_channels = row
    answer_channels = None
    if guild_channels and guild_channels.strip():
        try:
            answer_channels = parse_answer_channels(guild_channels, "guild_settings.answer_channels")
        except ConfigError as exc:
            log.warning("guild %d: ignoring bad setting: %s", guild_id, exc)
    return Overrides(
        persona=channel_persona or guild_persona or None,
        channel_answer=None if channel_answer is None else bool(channel_answer),
        guild_answer_channels=answer_channels,
    )


class Limits:
    """Cooldowns per member and answer slots per conversation, in memory.

    In memory on purpose: after a restart nobody is mid-cooldown, which is harmless, and
    these checks run on every addressed message, so they must not cost a database write.
    """

    def __init__(self, cooldown_s: float, concurrency: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._cooldown_s = cooldown_s
        self._concurrency = concurrency
        self._clock = clock
        self._last_start: dict[tuple[int, int], float] = {}
        self._noted: set[tuple[int, int]] = set()
        self._active: dict[int, int] = {}

    def cooldown_left(self, member: tuple[int, int]) -> float:
        started = self._last_start.get(member)
        if started is None:
            return 0.0
        return max(0.0, started + self._cooldown_s - self._clock())

    def should_note_cooldown(self, member: tuple[int, int]) -> bool:
        """True the first time per window a member is told about their cooldown."""
        if member in self._noted:
            return False
        self._noted.add(member)
        return True

    def try_start(self, member: tuple[int, int], conversation_id: int) -> bool:
        """Take an answer slot in the conversation and start the member's cooldown."""
        if self._active.get(conversation_id, 0) >= self._concurrency:
            return False
        self._active[conversation_id] = self._active.get(conversation_id, 0) + 1
        self._last_start[member] = self._clock()
        self._noted.discard(member)
        return True

    def finish(self, conversation_id: int) -> None:
        left = self._active[conversation_id] - 1
        if left:
            self._active[conversation_id] = left
        else:
            del self._active[conversation_id]
