"""Translation between discord.py messages and the features' types, for chat answers.

Every message the bot sends or edits passes an explicit ``AllowedMentions`` that pings
nobody: generated text must never notify ``@everyone``, a role or a member. The one
exception is the reply reference to the member being answered, which pings them only
when REPLY_PING is configured; an edit keeps the mentions the message was sent with, so
streaming does not drop that ping.
"""

from __future__ import annotations

import contextlib
import logging
from contextlib import AbstractAsyncContextManager

import discord

from bot.core.messages import Incoming, MessageGone
from bot.discord_app.render import no_pings

log = logging.getLogger(__name__)

ANSWERABLE_TYPES = (discord.MessageType.default, discord.MessageType.reply)


def reply_mentions(ping_author: bool) -> discord.AllowedMentions:
    return discord.AllowedMentions(everyone=False, users=False, roles=False,
                                   replied_user=ping_author)


def mentions_me(message: discord.Message, me: discord.abc.User) -> bool:
    """A mention of the bot, or of its managed role (Discord's autocomplete offers both)."""
    if any(user.id == me.id for user in message.mentions):
        return True
    return any(role.tags is not None and role.tags.bot_id == me.id
               for role in message.role_mentions)


def permission_names(permissions: discord.Permissions) -> frozenset[str]:
    """Every permission name discord.py knows that ``permissions`` holds, aliases included
    (``view_channel`` as well as ``read_messages``)."""
    return frozenset(n for n in discord.Permissions.VALID_FLAGS if getattr(permissions, n))


def to_incoming(message: discord.Message, me: discord.abc.User) -> Incoming:
    author = message.author
    member = author if isinstance(author, discord.Member) else None
    channel = message.channel
    thread = channel if isinstance(channel, discord.Thread) else None
    parent = thread.parent if thread is not None else channel
    reference = message.reference
    replied = reference.resolved if reference is not None else None
    return Incoming(
        message_id=message.id,
        guild_id=message.guild.id if message.guild is not None else None,
        channel_id=thread.parent_id if thread is not None else channel.id,
        channel_name=getattr(parent, "name", "") or "",
        thread_id=thread.id if thread is not None else None,
        author_id=message.author.id,
        author_name=message.author.display_name,
        author_is_bot=message.author.bot,
        # clean_content turns <@id> into @name, which reads well in a prompt.
        content=message.clean_content,
        created_at=int(message.created_at.timestamp() * 1000),
        reply_to_id=reference.message_id if reference is not None else None,
        reply_to_author_id=replied.author.id if isinstance(replied, discord.Message) else None,
        mentions_bot=mentions_me(message, me),
        author_roles=frozenset(r.id for r in member.roles) if member is not None else frozenset(),
        author_permissions=(permission_names(channel.permissions_for(member))
                            if member is not None else frozenset()),
        author_created_at=int(author.created_at.timestamp() * 1000),
        attachments=tuple(a.filename for a in message.attachments),
        raw_content=message.content,
    )


class DiscordSent:
    """A posted message the domain may edit or delete."""

    def __init__(self, message: discord.Message, mentions: discord.AllowedMentions) -> None:
        self._message = message
        self._mentions = mentions

    @property
    def id(self) -> int:
        return self._message.id

    async def edit(self, text: str) -> None:
        try:
            await self._message.edit(content=text, allowed_mentions=self._mentions)
        except discord.NotFound:
            raise MessageGone(self._message.id) from None

    async def delete(self) -> None:
        with contextlib.suppress(discord.NotFound):  # already gone is what we wanted
            await self._message.delete()


class DiscordReply:
    """The ``ReplyChannel`` for answering one Discord message."""

    _warned: set[int] = set()  # channels already logged as unwritable, once per process

    def __init__(self, message: discord.Message, *, ping_author: bool) -> None:
        self._message = message
        self._ping_author = ping_author

    def can_send(self) -> bool:
        channel = self._message.channel
        if self._message.guild is None:
            return True  # a DM: Discord refuses at send time if the member blocks DMs
        permissions = channel.permissions_for(self._message.guild.me)
        allowed = (permissions.send_messages_in_threads if isinstance(channel, discord.Thread)
                   else permissions.send_messages)
        if not allowed and channel.id not in self._warned:
            self._warned.add(channel.id)
            log.warning("no permission to send messages in #%s (%d): give the bot Send Messages "
                        "there, or members' questions in it stay unanswered",
                        getattr(channel, "name", "?"), channel.id)
        return allowed

    def typing(self) -> AbstractAsyncContextManager[None]:
        return self._message.channel.typing()

    async def send(self, text: str, *, reply: bool) -> DiscordSent:
        channel = self._message.channel
        if reply:
            mentions = reply_mentions(self._ping_author)
            # fail_if_not_exists=False: if the question was deleted meanwhile, post anyway.
            sent = await channel.send(
                text, reference=self._message.to_reference(fail_if_not_exists=False),
                allowed_mentions=mentions)
        else:
            mentions = no_pings()
            sent = await channel.send(text, allowed_mentions=mentions)
        return DiscordSent(sent, mentions)
