"""How often the bot answers: per-member cooldowns and per-conversation concurrency.

When it answers at all is ``bot.core.addressing``; in which voice, ``bot.core.guilds``.

Limits, and what a member sees when they hit one:
  * per-member cooldown (``MEMBER_COOLDOWN_S``, counted from the start of their last
    answer): one short note per cooldown window, then silence, so a member who repeats
    themselves learns why without the bot spamming the channel;
  * per-conversation concurrency (``CHANNEL_CONCURRENCY`` answers at once in a channel or
    thread): a short note. Answers are not queued, because an answer that arrives long
    after the conversation moved on is more confusing than a request to ask again.
"""

from __future__ import annotations

import time
from collections.abc import Callable


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
