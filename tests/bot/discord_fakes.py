"""Fakes of discord.py objects at the network boundary: ``MagicMock(spec_set=...)`` of the
real classes, so a misspelt attribute fails and ``isinstance`` checks still hold."""

from datetime import datetime, timedelta, timezone
from unittest.mock import MagicMock

import discord

from tests.bot.recorder import next_id

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=timezone.utc)


def fake_user(name, *, bot=False, cls=discord.Member):
    user = MagicMock(spec_set=cls)
    user.id = next_id()
    user.display_name = name
    user.bot = bot
    user.created_at = NOW - timedelta(days=400)
    if cls is discord.Member:
        user.roles = []
    return user


def fake_guild():
    guild = MagicMock(spec_set=discord.Guild)
    guild.id = next_id()
    return guild


_POSTED = {}


def fake_posted(channel):
    """What ``channel.send`` returns: a message the bot can edit and delete."""
    message = MagicMock(spec_set=discord.Message)
    message.id = next_id()
    posted(channel).append(message)
    return message


def fake_channel(name="general", *, cls=discord.TextChannel, parent=None):
    channel = MagicMock(spec_set=cls)
    channel.id = next_id()
    channel.name = name
    channel.send.side_effect = lambda *args, **kwargs: fake_posted(channel)
    channel.permissions_for.return_value = discord.Permissions(send_messages=True,
                                                               send_messages_in_threads=True)
    if cls is discord.Thread:
        channel.parent = parent
        channel.parent_id = parent.id
    return channel


def fake_message(content, *, author, channel, guild, mentions=(), reply_to=None):
    message = MagicMock(spec_set=discord.Message)
    message.id = next_id()
    message.type = discord.MessageType.reply if reply_to else discord.MessageType.default
    message.content = message.clean_content = content
    message.author = author
    message.channel = channel
    message.guild = guild
    message.mentions = list(mentions)
    message.role_mentions = []
    message.created_at = NOW
    message.edited_at = None
    message.attachments = []
    message.to_reference.return_value = MagicMock(spec_set=discord.MessageReference)
    if reply_to is None:
        message.reference = None
    else:
        reference = MagicMock(spec_set=discord.MessageReference)
        reference.message_id = reply_to.id
        reference.resolved = reply_to
        message.reference = reference
    return message


def posted(channel):
    """The messages the bot posted in ``channel``, in order."""
    return _POSTED.setdefault(channel.id, [])


def no_pings(allowed, *, replied_user=False):
    """Whether an ``AllowedMentions`` lets nobody be pinged (but the replied-to author,
    when ``replied_user``)."""
    return (isinstance(allowed, discord.AllowedMentions) and allowed.everyone is False
            and allowed.users is False and allowed.roles is False
            and allowed.replied_user is replied_user)


def fake_interaction(user, guild_id, *, permissions=None, client=None, message=None):
    """An application-command or component interaction; ``permissions`` are the caller's."""
    interaction = MagicMock(spec_set=discord.Interaction)
    interaction.user = user
    interaction.guild_id = guild_id
    interaction.channel_id = next_id()
    interaction.channel = None
    interaction.permissions = permissions or discord.Permissions.none()
    interaction.response = MagicMock(spec_set=discord.InteractionResponse)
    interaction.response.is_done.return_value = False
    interaction.followup = MagicMock(spec_set=discord.Webhook)
    interaction.client = client
    interaction.message = message
    return interaction


def answer_of(interaction):
    """(text, ephemeral) of what the interaction answered, whichever way it answered."""
    response = interaction.response
    if response.send_message.await_args is not None:
        call = response.send_message.await_args
    else:
        assert response.defer.await_args is not None, "neither answered nor deferred"
        call = interaction.followup.send.await_args
    assert no_pings(call.kwargs["allowed_mentions"]), call
    return call.kwargs.get("content"), call.kwargs["ephemeral"]
