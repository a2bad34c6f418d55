"""Discussion topics: ``/topic`` drafts questions from what members have been talking
about in a channel, and an optional weekly topic draft goes to the moderators' queue.

The draft (``bot.announce.topics``) is an announcement draft like any other, with the same
private preview and buttons (Approve, Edit, Regenerate, Discard: the announcements
feature handles them), so nothing reaches members without a moderator. ``/schedule topics``
sets a day and time (the guild's time zone) when the bot drafts the week's topics for a
channel and posts the draft to the mod-log channel for approval; ``/schedule topics-stop``
ends it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta, timezone

from bot.announce.drafts import DraftStore
from bot.announce.topics import TopicWriter, post_text, themes
from bot.core.commands import MODERATORS, ChannelRef, Command, Invocation, Option, OptionKind
from bot.core.feature import DataHooks, Feature, Services
from bot.core.jobs import Job
from bot.core.posting import post_to_modlog
from bot.core.replies import Reply
from bot.features.announcements import draft_reply
from bot.model import Busy
from bot.schedule.recurrence import DAYS, Recurrence, next_after

log = logging.getLogger(__name__)

LOOKBACK_DAYS, RECENT_MESSAGES, MIN_THEMES = 14, 300, 2
CHECK_EVERY_S = 60


def _now() -> int:
    return int(time.time() * 1000)


def setup(services: Services) -> Feature:
    db, drafts = services.db, DraftStore(services.db)
    writer = TopicWriter(services.model, services.pipeline)

    async def draft_for(guild: int, channel: int, author: int | None):
        """(the draft, or None, and a note for the moderator)."""
        await services.writer.flush()
        since = _now() - LOOKBACK_DAYS * 86_400_000
        recent = [m for m in await services.archive.recent(channel, RECENT_MESSAGES)
                  if m.created_at >= since and not m.is_bot]
        found = themes(recent)
        if len(found) < MIN_THEMES:
            return None, (f"Members have not talked enough in <#{channel}> in the last "
                          f"{LOOKBACK_DAYS} days for me to find topics.")
        topics, why = await writer.write(found, [m.content for m in recent], guild, channel)
        draft = await drafts.add(guild, channel, "Themes: " + ", ".join(found), "discussion",
                                 "friendly", post_text(topics), author_id=author, now=_now())
        note = f"From what members said about: {', '.join(found)}."
        if why:
            note += f" The model's questions could not be used ({why}), so these are plain ones."
        return draft, note

    async def topic(inv: Invocation) -> Reply:
        channel: ChannelRef | None = inv.get("channel")
        where = channel.channel_id if channel else inv.caller.channel_id
        try:
            draft, note = await draft_for(inv.caller.guild_id, where, inv.caller.user_id)
        except Busy:
            return Reply("The model is busy right now; please try again in a minute.")
        return Reply(note) if draft is None else draft_reply(draft, note)

    def next_time(weekday: int, minute: int, guild: int, after_ms: int) -> int:
        tz = services.guilds.tz(guild)
        now = datetime.fromtimestamp(after_ms / 1000, timezone.utc).astimezone(tz)
        first = now.replace(hour=minute // 60, minute=minute % 60, second=0, microsecond=0)
        first -= timedelta(days=(first.weekday() - weekday) % 7 + 7)  # a past anchor
        at = next_after(first, Recurrence("weekly", (weekday,)), now, tz)
        return int(at.timestamp() * 1000)

    async def weekly(inv: Invocation) -> Reply:
        day, at = inv.get("day"), inv.get("time").strip()
        try:
            hours, minutes = (int(x) for x in at.split(":"))
            if not (0 <= hours < 24 and 0 <= minutes < 60):
                raise ValueError
        except ValueError:
            return Reply("time: a time of day like 10:00.")
        guild, weekday, minute = inv.caller.guild_id, DAYS.index(day), hours * 60 + minutes
        channel = inv.get("channel").channel_id
        due = next_time(weekday, minute, guild, _now())
        await db.write(
            "INSERT INTO topic_schedules VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id) DO "
            "UPDATE SET channel_id = excluded.channel_id, weekday = excluded.weekday, "
            "minute_of_day = excluded.minute_of_day, next_at = excluded.next_at, "
            "updated_by = excluded.updated_by, updated_at = excluded.updated_at",
            (guild, channel, weekday, minute, due, inv.caller.user_id, _now()))
        return Reply(f"Every week I'll draft topics for <#{channel}> and post the draft to the "
                     f"mod-log channel for approval; the first on <t:{due // 1000}:f>.")

    async def stop(inv: Invocation) -> Reply:
        gone = await db.write("DELETE FROM topic_schedules WHERE guild_id = ?", (inv.caller.guild_id,))
        return Reply("The weekly topic draft is off." if gone else "There is no weekly topic draft.")

    async def run_weekly() -> None:
        """The job: draft each guild's topics when due, into the mod-log channel."""
        while True:
            now = _now()
            for row in await db.fetchall("SELECT guild_id, channel_id, weekday, minute_of_day, "
                                         "next_at FROM topic_schedules WHERE next_at <= ?", (now,)):
                guild, channel, weekday, minute, due = tuple(row)
                claimed = await db.write(  # one week, one draft, whoever runs
                    "UPDATE topic_schedules SET next_at = ? WHERE guild_id = ? AND next_at = ?",
                    (next_time(weekday, minute, guild, now), guild, due))
                if not claimed:
                    continue
                try:
                    draft, note = await draft_for(guild, channel, None)
                except Busy:
                    log.warning("guild %d: the model was busy; this week's topics are skipped", guild)
                    continue
                reply = Reply(note) if draft is None else draft_reply(draft, "Weekly topics: " + note)
                if await post_to_modlog(services.guilds, services.poster, guild, reply) is None:
                    log.warning("guild %d: weekly topics drafted, but there is no mod-log channel",
                                guild)
            await asyncio.sleep(CHECK_EVERY_S)

    async def export(guild: int, user_id: int) -> dict:
        row = await db.fetchone("SELECT channel_id, weekday, minute_of_day FROM topic_schedules "
                                "WHERE guild_id = ? AND updated_by = ?", (guild, user_id))
        return {"weekly_topics_you_set": None if row is None else dict(
            zip(("channel_id", "weekday", "minute_of_day"), tuple(row)))}

    async def unlink(guild: int, user_id: int) -> int:
        return await db.unlink("topic_schedules", ("updated_by",), guild, user_id)

    def command(name, description, handler, *options, group="schedule"):
        return Command(name, description, handler, group=group, options=options, access=MODERATORS)

    return Feature(
        name="topics",
        commands=(
            command("topic", "Draft discussion topics from what members talk about here",
                    topic, Option("channel", OptionKind.CHANNEL, "Another channel", required=False),
                    group=None),
            command("topics", "Draft discussion topics every week, for approval in the mod log",
                    weekly,
                    Option("channel", OptionKind.CHANNEL, "The channel the topics are for"),
                    Option("day", OptionKind.CHOICE, "The day", choices=DAYS),
                    Option("time", OptionKind.STRING, "The time of day, like 10:00", low=3, high=5)),
            command("topics-stop", "Stop the weekly discussion-topic draft", stop),
        ),
        jobs=(Job("weekly-topics", run_weekly),),
        data=DataHooks(covers=("topic_schedules.updated_by",), export=export, delete=unlink),
        requires=("announcements",),
    )
