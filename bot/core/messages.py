"""What adapters hand the features for a member's message, and where an answer goes.

Adapters (Discord, console) translate their world into ``Incoming`` and implement
``ReplyChannel``/``SentMessage``; features never see a discord object, so the same
handlers run on both and are tested without a network.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Protocol

from bot.core.text import clean_text
from bot.store import ArchivedMessage, guild_key


@dataclass(frozen=True)
class Incoming:
    """A message as features see it. Times are unix milliseconds UTC.

    ``channel_id`` is the text channel (a thread's parent); ``thread_id`` is set inside a
    thread. ``guild_id`` is None in direct messages. ``reply_to_author_id`` is the author
    of the message this one replies to, when the adapter knows it. What automod needs
    about the author: ``author_roles`` (role ids), ``author_permissions`` (Discord
    permission names in that channel, as ``Caller.permissions``) and when the account was
    made (``author_created_at``, None when unknown); ``attachments`` are the file names.
    ``raw_content`` is the text exactly as sent, when ``content`` was made readable
    (Discord's mentions as ``<@id>``, not ``@name``): what automod must judge.
    """

    message_id: int
    guild_id: int | None
    channel_id: int
    channel_name: str
    author_id: int
    author_name: str
    content: str
    created_at: int
    thread_id: int | None = None
    author_is_bot: bool = False
    reply_to_id: int | None = None
    reply_to_author_id: int | None = None
    mentions_bot: bool = False
    author_roles: frozenset[int] = frozenset()
    author_permissions: frozenset[str] = frozenset()
    author_created_at: int | None = None
    attachments: tuple[str, ...] = ()
    raw_content: str | None = None

    @property
    def judged_text(self) -> str:
        return self.content if self.raw_content is None else self.raw_content

    @property
    def is_dm(self) -> bool:
        return self.guild_id is None

    @property
    def guild_key(self) -> int:
        """The storage key of the guild: DMs share one (see ``bot.store.DM_GUILD``)."""
        return guild_key(self.guild_id)

    @property
    def conversation_id(self) -> int:
        """Where an answer goes and what the concurrency limit counts: the thread or channel."""
        return self.thread_id or self.channel_id

    def archived(self) -> ArchivedMessage:
        return ArchivedMessage(
            message_id=self.message_id,
            guild_id=self.guild_key,
            channel_id=self.channel_id,
            thread_id=self.thread_id,
            author_id=self.author_id,
            author_name=clean_text(self.author_name),
            content=clean_text(self.content),
            created_at=self.created_at,
            is_bot=self.author_is_bot,
            reply_to_id=self.reply_to_id,
        )


class MessageGone(Exception):
    """The message to edit was deleted (a moderator removed the bot's answer mid-stream):
    the answer was withdrawn, which is not an error."""


class SentMessage(Protocol):
    """A message the bot posted, which it may still edit or withdraw. ``edit`` raises
    ``MessageGone`` when the message no longer exists."""

    @property
    def id(self) -> int: ...

    async def edit(self, text: str) -> None: ...

    async def delete(self) -> None: ...


class ReplyChannel(Protocol):
    """Where the answer to one incoming message goes.

    ``send(text, reply=True)`` posts as a reply to that message (on Discord, a message
    reference; it pings the author only when REPLY_PING is configured); ``reply=False``
    posts a plain follow-up, used for the second and later parts of a long answer.
    ``can_send`` is False when the bot lacks permission to post there: the answer is then
    skipped before it costs the member their cooldown.
    """

    def can_send(self) -> bool: ...

    def typing(self) -> AbstractAsyncContextManager[None]: ...

    async def send(self, text: str, *, reply: bool) -> SentMessage: ...
