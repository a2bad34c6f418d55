"""The posting port: how a feature posts anywhere, not only as the answer to a message.

Announcements go to an announcement channel, mod-log entries to the mod-log channel,
notices to a member's DMs. The Discord adapter implements this over discord.py, the
console prints ``[bot → #channel] ...``. ``history`` exists for reconciliation: after a
crash between "post" and "mark posted", a feature looks for its own marker in the
channel's recent messages instead of posting twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bot.core.replies import Reply

if TYPE_CHECKING:
    from bot.core.guilds import GuildSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChannelTarget:
    guild_id: int
    channel_id: int


@dataclass(frozen=True)
class DirectTarget:
    user_id: int


Target = ChannelTarget | DirectTarget


@dataclass(frozen=True)
class Posted:
    """A message as ``history`` returns it (or ``send`` reports it)."""

    message_id: int
    channel_id: int
    author_id: int
    content: str
    created_at: int  # unix ms UTC


@dataclass(frozen=True)
class ScheduledEvent:
    """A guild scheduled event. ``channel_id`` (a voice or stage channel) or ``location``
    (an external event, which then needs ``end``)."""

    guild_id: int
    name: str
    start: datetime
    end: datetime | None = None
    description: str = ""
    channel_id: int | None = None
    location: str | None = None

    def __post_init__(self) -> None:
        if (self.channel_id is None) == (self.location is None):
            raise ValueError("an event takes a channel_id or a location, not both or neither")
        if self.location is not None and self.end is None:
            raise ValueError("an external event needs an end time")
        if self.end is not None and self.end <= self.start:
            raise ValueError("an event must end after it starts")


class PostingError(Exception):
    """The post could not be made: a missing channel, no permission, a blocked DM.
    The message is one line for logs and for the moderator who asked."""


class Poster(Protocol):
    async def send(self, target: Target, reply: Reply) -> Posted: ...

    async def edit(self, target: Target, message_id: int, reply: Reply) -> None: ...

    async def delete(self, target: Target, message_id: int) -> None: ...

    async def history(self, target: ChannelTarget, limit: int = 50) -> list[Posted]:
        """The channel's newest messages, newest first."""
        ...

    async def create_event(self, event: ScheduledEvent) -> int:
        """Create the event; return its id."""
        ...

    async def update_event(self, guild_id: int, event_id: int, *, start: datetime | None = None,
                           end: datetime | None = None, cancel: bool = False) -> None:
        """Move the event (``start``, ``end``) or cancel it."""
        ...


async def post_to_modlog(guilds: "GuildSettings", poster: Poster, guild_id: int,
                         text: str | Reply) -> Posted | None:
    """Post to the guild's mod-log channel if one is set by id; None when none is, or the
    post failed (logged: the caller's own record stands either way)."""
    channel = await guilds.modlog_channel(guild_id)
    if not isinstance(channel, int):
        return None
    try:
        return await poster.send(ChannelTarget(guild_id, channel),
                                 text if isinstance(text, Reply) else Reply(text))
    except Exception:
        log.exception("could not post to the mod-log channel of guild %d", guild_id)
        return None
