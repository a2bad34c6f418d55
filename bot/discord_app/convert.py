"""Translation between discord.py objects and the chat domain's types.

Every message the bot sends or edits passes an explicit ``AllowedMentions`` that pings
nobody: generated text must never notify ``@everyone``, a role or a member. The one
exception is the reply reference to the member being answered, which pings them only
when REPLY_PING is configured.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

import discord

from bot.chat.events import Incoming

ANSWERABLE_TYPES = (discord.MessageType.default, discord.MessageType.reply)


def no_pings() -> discord.AllowedMentions:
    return discord.AllowedMentions.none()


def reply_mentions(ping_author: bool) -> discord.AllowedMentions:
    return discord.AllowedMentions(everyone=False, users=False, roles=False,
                                   replied_user=ping_author)


def to_incoming(message: discord.Message, me: discord.abc.User) -> Incoming:
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
        mentions_bot=any(user.id == me.id for user in message.mentions),
    )


class DiscordSent:
    """A posted message the domain may edit or delete."""

    def __init__(self, message: discord.Message) -> None:
        self._message = message

    @property
    def id(self) -> int:
        return self._message.id

    async def edit(self, text: str) -> None:
        await self._message.edit(content=text, allowed_mentions=no_pings())

    async def delete(self) -> None:
        await self._message.delete()


class DiscordReply:
    """The ``ReplyChannel`` for answering one Discord message."""

    def __init__(self, message: discord.Message, *, ping_author: bool) -> None:
        self._message = message
        self._ping_author = ping_author

    def typing(self) -> AbstractAsyncContextManager[None]:
        return self._message.channel.typing()

    async def send(self, text: str, *, reply: bool) -> DiscordSent:
        channel = self._message.channel
        if reply:
            # fail_if_not_exists=False: if the question was deleted meanwhile, post anyway.
            sent = await channel.send(
                text,
                reference=self._message.to_reference(fail_if_not_exists=False),
                allowed_mentions=reply_mentions(self._ping_author),
            )
        else:
            sent = await channel.send(text, allowed_mentions=no_pings())
        return DiscordSent(sent)
