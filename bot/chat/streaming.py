"""Streaming an answer into Discord-sized messages by throttled edits.

The first visible text is posted at once (the member sees the bot start), then the
message is edited at most once per ``interval`` seconds while tokens arrive: Discord
rate-limits edits to about five per five seconds per channel, and one a second reads as
live. When the text outgrows one message, the full part is finalised and the answer
continues in a new message. Every text shown is cleaned and mention-defused first;
re-sanitising the whole live part on each delta also catches a mention split across
two deltas ("@every" + "one").

Before any text is shown it passes the output guard (the pipeline's output guards): the
whole answer so far is checked, so a phrase split across deltas or messages is still
seen, and text is held back until it has passed. A blocked answer raises ``Withheld``;
what was shown before had passed, and the caller decides what to do with it.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable

from bot.core.messages import ReplyChannel, SentMessage
from bot.core.text import DISCORD_LIMIT, sanitize, split_message, take_chunk

Guard = Callable[[str], Awaitable[str | None]]  # the text so far -> a reason to withhold it


class Withheld(Exception):
    """The output guard refused the answer; ``str()`` is its reason (for the log)."""


async def _allow_all(text: str) -> None:
    return None


class ReplyWriter:
    def __init__(self, out: ReplyChannel, *, interval: float = 1.0, limit: int = DISCORD_LIMIT,
                 clock: Callable[[], float] = time.monotonic, guard: Guard = _allow_all) -> None:
        self._out = out
        self._guard = guard
        self._interval = interval
        self._limit = limit
        self._clock = clock
        self._live: SentMessage | None = None  # the message still being written
        self._shown = ""  # what the live message shows now
        self._last_update = 0.0
        self.parts: list[tuple[SentMessage, str]] = []  # every message posted, final text

    @property
    def sent(self) -> list[SentMessage]:
        return [message for message, _ in self.parts]

    async def write(self, deltas: AsyncIterator[str]) -> str:
        """Stream ``deltas`` into messages; return the whole answer as shown."""
        pending = ""
        async for delta in deltas:
            pending = sanitize(pending + delta)
            while len(pending) > self._limit:
                chunk, pending = take_chunk(pending, self._limit)
                await self._show(chunk)
                self._live = None
            visible = pending.strip()
            if visible and (self._live is None or (
                    visible != self._shown and self._clock() - self._last_update >= self._interval)):
                await self._show(visible)
        chunks = split_message(pending, self._limit)
        for i, chunk in enumerate(chunks):
            if i:
                self._live = None
            await self._show(chunk)
        return "\n".join(text for _, text in self.parts)

    async def _show(self, text: str) -> None:
        """Put ``text`` in the live message, posting it first if there is none; the guard
        sees each new text once, before anyone does."""
        if self._live is not None and text == self._shown:
            return
        done = [shown for message, shown in self.parts if message is not self._live]
        reason = await self._guard("\n".join([*done, text]))
        if reason:
            raise Withheld(reason)
        if self._live is None:
            self._live = await self._out.send(text, reply=not self.parts)
            self.parts.append((self._live, text))
        else:
            await self._live.edit(text)
            self.parts[-1] = (self._live, text)
        self._shown = text
        self._last_update = self._clock()
