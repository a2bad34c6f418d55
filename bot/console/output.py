"""What the console shows: answers, structured replies, and posts through the posting port.

A reply's text and embeds print as text; its files are saved under ``DATA_DIR/console/``
and their paths printed; its buttons and select options print as numbered choices, which
``name: !press N`` presses; a form prints its fields, which ``name: !form field="..."``
submits. Every line the bot prints is mention-defused.
"""

from __future__ import annotations

import re
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bot.console.world import BOT_ID, BOT_NAME, CHANNELS, GUILD_ID, Snowflakes, channel_name
from bot.core.posting import ChannelTarget, DirectTarget, Posted, PostingError, ScheduledEvent, Target
from bot.core.replies import Button, Form, Reply, Select
from bot.core.text import sanitize


@dataclass
class ConsoleMessage:
    channel: str
    id: int
    text: str
    deleted: bool = False

    async def edit(self, text: str) -> None:
        self.text = text

    async def delete(self) -> None:
        self.deleted = True


@dataclass
class ConsoleReply:
    """Collects what the bot posts for one message; printed when the answer is done."""

    channel: str
    new_id: Snowflakes
    posted: list[ConsoleMessage] = field(default_factory=list)

    def can_send(self) -> bool:
        return True

    @asynccontextmanager
    async def typing(self):
        yield

    async def send(self, text: str, *, reply: bool) -> ConsoleMessage:
        message = ConsoleMessage(self.channel, self.new_id(), text)
        self.posted.append(message)
        return message


HISTORY = 500  # messages the console keeps per channel, as a client's scroll-back
_CHANNEL_MENTION = re.compile(r"<#(\d+)>")


def shown(text: str) -> str:
    """Text as the console shows it: defused, with channel mentions as ``#name`` (what a
    Discord client would draw)."""
    return _CHANNEL_MENTION.sub(lambda m: f"#{channel_name(int(m[1]))}", sanitize(text))


class Screen:
    """Prints replies and remembers the latest numbered choices for ``!press``."""

    def __init__(self, write: Callable[[str], None], files_dir: Path) -> None:
        self._write = write
        self._files_dir = files_dir
        # (custom id, select values) per number shown, for the latest reply with choices
        self.choices: list[tuple[str, tuple[str, ...]]] = []
        self.form: Form | None = None  # the latest form shown, for ``!form``

    def line(self, text: str) -> None:
        self._write(text)

    def reply(self, head: str, reply: Reply) -> None:
        """Print ``reply`` after ``head`` (``[bot → ana]``, ``[bot → #general]``)."""
        lines = [shown(reply.text)] if reply.text else []
        for embed in reply.embeds:
            if embed.title:
                lines.append(f"┃ {shown(embed.title)}")
            if embed.description:
                lines.extend(f"┃ {shown(row)}" for row in embed.description.splitlines())
            lines.extend(f"┃ {shown(f.name)}: {shown(f.value)}" for f in embed.fields)
            if embed.footer:
                lines.append(f"┃ {shown(embed.footer)}")
        for file in reply.files:
            lines.append(f"(file saved: {self._save(file.name, file.data)})")
        if reply.components:
            self.choices = []
            labels = []
            for component in reply.components:
                if isinstance(component, Button):
                    self.choices.append((component.custom_id, ()))
                    labels.append(f"[{len(self.choices)}] {sanitize(component.label)}"
                                 + (" (disabled)" if component.disabled else ""))
                elif isinstance(component, Select):
                    for option in component.options:
                        self.choices.append((component.custom_id, (option.value,)))
                        labels.append(f"[{len(self.choices)}] {sanitize(option.label)}")
            lines.append("  ".join(labels) + "   (press with: name: !press N)")
        if reply.form is not None:
            self.form = reply.form
            lines.append(f"┃ {sanitize(reply.form.title)}")
            lines.extend(f"┃ {sanitize(f.label)} ({f.name}): {shown(f.value)}" for f in reply.form.fields)
            names = " ".join(f'{f.name}="…"' for f in reply.form.fields)
            lines.append(f"(fill in with: name: !form {names})")
        if not lines:
            lines = ["(updated)"]
        self._write(f"{head} {lines[0]}")
        for rest in lines[1:]:
            self._write(rest)

    def _save(self, name: str, data: bytes) -> Path:
        self._files_dir.mkdir(parents=True, exist_ok=True)
        path = self._files_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{name}"
        counter = 1
        while path.exists():
            path = path.with_name(f"{path.stem}-{counter}{path.suffix}")
            counter += 1
        path.write_bytes(data)
        return path


class ConsolePoster:
    """The posting port in the console: posts print at once as ``[bot → #channel]``."""

    def __init__(self, screen: Screen, new_id: Snowflakes, names: Callable[[int], str]) -> None:
        self._screen = screen
        self._new_id = new_id
        self._names = names  # user id -> member name, for DMs
        self._history: dict[int, list[Posted]] = {}
        self.events: list[ScheduledEvent] = []

    def _where(self, target: Target) -> tuple[str, int]:
        if isinstance(target, DirectTarget):
            return f"{self._names(target.user_id)} (DM)", target.user_id
        if target.guild_id != GUILD_ID or target.channel_id not in CHANNELS.values():
            raise PostingError(f"no channel {target.channel_id} in the console's guild")
        return f"#{channel_name(target.channel_id)}", target.channel_id

    async def send(self, target: Target, reply: Reply) -> Posted:
        where, channel = self._where(target)
        posted = Posted(self._new_id(), channel, BOT_ID, reply.text, int(time.time() * 1000))
        self._history.setdefault(channel, []).insert(0, posted)
        self._screen.reply(f"[{BOT_NAME} → {where}]", reply)
        return posted

    async def edit(self, target: Target, message_id: int, reply: Reply) -> None:
        where, _ = self._where(target)
        self._screen.reply(f"[{BOT_NAME} → {where}, edited {message_id}]", reply)

    async def delete(self, target: Target, message_id: int) -> None:
        where, channel = self._where(target)
        gone = [p for p in self._history.get(channel, []) if p.message_id == message_id]
        self._history[channel] = [p for p in self._history.get(channel, []) if p.message_id != message_id]
        if gone and gone[0].author_id != BOT_ID:
            self._screen.line(f"[server] {self._names(gone[0].author_id)}'s message in {where} "
                              f"was deleted: {shown(gone[0].content[:80])}")
        else:
            self._screen.line(f"[{BOT_NAME} → {where}] (deleted {message_id})")

    def record(self, posted: Posted) -> None:
        """A member's message, so history, deletes and purges see it as Discord would."""
        self._history.setdefault(posted.channel_id, []).insert(0, posted)
        del self._history[posted.channel_id][HISTORY:]

    def take(self, channel_id: int, limit: int, user_id: int | None) -> list[Posted]:
        """Remove, among the ``limit`` newest messages, those by ``user_id`` (or all)."""
        newest = self._history.get(channel_id, [])
        gone = [p for p in newest[:limit] if user_id is None or p.author_id == user_id]
        ids = {p.message_id for p in gone}
        self._history[channel_id] = [p for p in newest if p.message_id not in ids]
        return gone

    async def history(self, target: ChannelTarget, limit: int = 50) -> list[Posted]:
        _, channel = self._where(target)
        return self._history.get(channel, [])[:limit]

    async def create_event(self, event: ScheduledEvent) -> int:
        self.events.append(event)
        self._screen.line(f"[{BOT_NAME} → events] {sanitize(event.name)} at "
                          f"{event.start.isoformat(timespec='minutes')}")
        return self._new_id()

    async def update_event(self, guild_id: int, event_id: int, *, start=None, end=None,
                           cancel: bool = False) -> None:
        what = "cancelled" if cancel else f"moved to {start.isoformat(timespec='minutes')}"
        self._screen.line(f"[{BOT_NAME} → events] event {event_id} {what}")

