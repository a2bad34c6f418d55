"""Gateway events to the features: messages to the message pipeline, and guild scheduled
events moved or cancelled to the features that follow them (an event's reminders).

Raw edit and delete events are used, not the cached ones: the cached variants only fire
for messages still in discord.py's message cache, and the archive must follow edits and
deletions of older messages too.
"""

from __future__ import annotations

import discord
from discord.ext import commands

from bot.core.feature import Features
from bot.core.pipeline import Pipeline
from bot.discord_app.convert import ANSWERABLE_TYPES, DiscordReply, to_incoming


class EventsCog(commands.Cog):
    def __init__(self, bot: commands.Bot, pipeline: Pipeline, features: Features, *,
                 ping_author: bool) -> None:
        self.bot = bot
        self.pipeline = pipeline
        self.features = features
        self.ping_author = ping_author

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        if message.type not in ANSWERABLE_TYPES:
            return  # joins, pins, boosts: nothing to archive or answer
        await self.pipeline.on_message(to_incoming(message, self.bot.user),
                                       DiscordReply(message, ping_author=self.ping_author))

    @commands.Cog.listener()
    async def on_raw_message_edit(self, payload: discord.RawMessageUpdateEvent) -> None:
        message = payload.message
        edited = message.edited_at or discord.utils.utcnow()
        # Only a real edit is judged again: Discord also sends an update when a link's
        # preview loads, with the text unchanged (and no edited_at).
        full = (to_incoming(message, self.bot.user)
                if message.guild is not None and message.edited_at is not None else None)
        await self.pipeline.on_edit(payload.message_id, message.clean_content,
                                    int(edited.timestamp() * 1000), full)

    @commands.Cog.listener()
    async def on_raw_message_delete(self, payload: discord.RawMessageDeleteEvent) -> None:
        await self.pipeline.on_delete([payload.message_id])

    @commands.Cog.listener()
    async def on_raw_bulk_message_delete(self, payload: discord.RawBulkMessageDeleteEvent) -> None:
        await self.pipeline.on_delete(payload.message_ids)

    @commands.Cog.listener()
    async def on_scheduled_event_update(self, before: discord.ScheduledEvent,
                                        after: discord.ScheduledEvent) -> None:
        cancelled = after.status is discord.EventStatus.cancelled
        moved = before.start_time != after.start_time or before.end_time != after.end_time
        if cancelled or moved:
            await self.features.guild_event(after.guild_id, after.id, after.start_time,
                                            after.end_time, cancelled)

    @commands.Cog.listener()
    async def on_scheduled_event_delete(self, event: discord.ScheduledEvent) -> None:
        await self.features.guild_event(event.guild_id, event.id, None, None, True)
