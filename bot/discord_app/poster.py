"""The posting port over discord.py: send, edit, delete, read history, create events.

Channels and users come from the cache when present and are fetched otherwise (a DM
channel or an old thread may not be cached). Every Discord failure becomes one
``PostingError`` line that says what to fix, never a traceback in a feature.
"""

from __future__ import annotations

import discord

from bot.core.posting import (ChannelTarget, DirectTarget, Posted, PostingError,
                              ScheduledEvent, Target)
from bot.core.replies import Reply
from bot.discord_app.render import edit_kwargs, send_kwargs


def _posted(message: discord.Message) -> Posted:
    return Posted(message.id, message.channel.id, message.author.id, message.content,
                  int(message.created_at.timestamp() * 1000))


class DiscordPoster:
    def __init__(self, client: discord.Client) -> None:
        self._client = client

    async def _channel(self, target: Target) -> discord.abc.Messageable:
        try:
            if isinstance(target, DirectTarget):
                user = self._client.get_user(target.user_id) or await self._client.fetch_user(target.user_id)
                return user.dm_channel or await user.create_dm()
            channel = (self._client.get_channel(target.channel_id)
                       or await self._client.fetch_channel(target.channel_id))
        except discord.NotFound:
            raise PostingError(f"{target}: no such channel or user") from None
        except discord.HTTPException as exc:
            raise PostingError(f"{target}: {exc.text or exc.status}") from None
        if getattr(channel, "guild", None) is None or channel.guild.id != target.guild_id:
            raise PostingError(f"channel {target.channel_id} is not in guild {target.guild_id}")
        if not isinstance(channel, discord.abc.Messageable):
            raise PostingError(f"channel {target.channel_id} does not take messages")
        return channel

    async def send(self, target: Target, reply: Reply) -> Posted:
        channel = await self._channel(target)
        try:
            return _posted(await channel.send(**send_kwargs(reply)))
        except discord.Forbidden:
            raise PostingError(f"{target}: the bot may not post there (Send Messages, or "
                               "the member does not accept DMs)") from None
        except discord.HTTPException as exc:
            raise PostingError(f"{target}: {exc.text or exc.status}") from None

    async def edit(self, target: Target, message_id: int, reply: Reply) -> None:
        channel = await self._channel(target)
        try:
            await channel.get_partial_message(message_id).edit(**edit_kwargs(reply))
        except discord.HTTPException as exc:
            raise PostingError(f"{target}: cannot edit {message_id}: {exc.text or exc.status}") from None

    async def delete(self, target: Target, message_id: int) -> None:
        channel = await self._channel(target)
        try:
            await channel.get_partial_message(message_id).delete()
        except discord.NotFound:
            return  # already gone
        except discord.HTTPException as exc:
            raise PostingError(f"{target}: cannot delete {message_id}: {exc.text or exc.status}") from None

    async def history(self, target: ChannelTarget, limit: int = 50) -> list[Posted]:
        channel = await self._channel(target)
        try:
            return [_posted(m) async for m in channel.history(limit=limit)]
        except discord.Forbidden:
            raise PostingError(f"{target}: the bot needs Read Message History there") from None
        except discord.HTTPException as exc:
            raise PostingError(f"{target}: cannot read history: {exc.text or exc.status}") from None

    async def create_event(self, event: ScheduledEvent) -> int:
        guild = self._client.get_guild(event.guild_id)
        if guild is None:
            raise PostingError(f"guild {event.guild_id} is not available")
        kwargs = {"name": event.name, "start_time": event.start, "description": event.description,
                  "privacy_level": discord.PrivacyLevel.guild_only}
        if event.location is not None:
            kwargs |= {"entity_type": discord.EntityType.external, "location": event.location,
                       "end_time": event.end}
        else:
            channel = guild.get_channel(event.channel_id)
            if not isinstance(channel, (discord.VoiceChannel, discord.StageChannel)):
                raise PostingError(f"channel {event.channel_id} is not a voice or stage channel")
            kwargs["channel"] = channel  # discord.py takes the event type from it
            if event.end is not None:
                kwargs["end_time"] = event.end
        try:
            return (await guild.create_scheduled_event(**kwargs)).id
        except discord.Forbidden:
            raise PostingError("the bot needs the Manage Events permission") from None
        except discord.HTTPException as exc:
            raise PostingError(f"cannot create the event: {exc.text or exc.status}") from None

    async def update_event(self, guild_id: int, event_id: int, *, start=None, end=None,
                           cancel: bool = False) -> None:
        guild = self._client.get_guild(guild_id)
        if guild is None:
            raise PostingError(f"guild {guild_id} is not available")
        try:
            event = guild.get_scheduled_event(event_id) or await guild.fetch_scheduled_event(event_id)
            if cancel:
                await event.cancel()
            else:
                await event.edit(start_time=start, **({"end_time": end} if end is not None else {}))
        except discord.NotFound:
            raise PostingError(f"event {event_id} no longer exists") from None
        except discord.Forbidden:
            raise PostingError("the bot needs the Manage Events permission") from None
        except discord.HTTPException as exc:
            raise PostingError(f"cannot change the event: {exc.text or exc.status}") from None
