"""Insights: what members need and how they feel, for the people who run the community.

Every member message the archive stores is classified (sentiment, intent, the products it
names) by a background job on a thread of its own (``bot.insights.labeller``); the OBSERVE
hook only wakes it, except for a message addressed to the bot, which is classified at
once so the chat answer can meet an upset member (a negative message, or an open complaint
from the last day) with an apology and an offer of a human.
A complaint goes on the staff follow-up list, with a card in the mod-log channel, until a
moderator marks it resolved.

Moderators get ``/insights`` (four charts), ``/member profile`` (a card with the member's
mood chart), ``/followup list`` and ``/followup resolve``; a weekly digest goes to the
mod-log channel on Monday morning, guild time.

Its member data: the labels of a member's messages and their follow-ups (and, as who
resolved one, a moderator's id).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from datetime import datetime, time as dtime, timedelta
from zoneinfo import ZoneInfo

from bot.core.commands import MODERATORS, Command, Invocation, MemberRef, Option, OptionKind
from bot.core.feature import DataHooks, Feature, Services
from bot.core.jobs import Job
from bot.core.pipeline import Edit, MessageEvent, MessageHook, Stage
from bot.core.posting import post_to_modlog
from bot.core.replies import ComponentRoute, Press, Reply
from bot.core.text import clean_text, sanitize
from bot.grounding.retrieval import Retriever
from bot.insights import views
from bot.insights.labeller import Labeller
from bot.insights.models import load_sentiment
from bot.insights.store import InsightsStore, Pending
from bot.kb import KnowledgeBase
from bot.store import DM_GUILD

log = logging.getLogger(__name__)

DIGEST_WEEKDAY, DIGEST_TIME = 0, dtime(9, 0)  # Monday 09:00, guild time
DIGEST_CHECK_S = 600.0
DIGEST_LATE_S = 86_400  # after a day down, last week's digest is skipped, not posted late
MAX_DAYS = 90
UPSET_WINDOW_MS = 86_400_000


def last_digest_time(now: datetime, tz: ZoneInfo) -> datetime:
    """The latest Monday 09:00 (in ``tz``) at or before ``now``."""
    local = now.astimezone(tz)
    day = local.date() - timedelta(days=(local.weekday() - DIGEST_WEEKDAY) % 7)
    at = datetime.combine(day, DIGEST_TIME, tz)
    return at if at <= local else at - timedelta(days=7)


def setup(services: Services) -> Feature:
    db, guilds, writer = services.db, services.guilds, services.writer
    store = InsightsStore(db)
    retriever = Retriever(KnowledgeBase(db))

    async def products(guild_id: int, text: str) -> list[int]:
        return [s.id for s in await retriever.products_named(guild_id, [text])]

    async def on_complaint(p: Pending) -> None:
        row = await db.fetchone("SELECT channel_id, author_name FROM messages WHERE message_id = ?",
                                (p.message_id,))
        if row is None:
            return
        added = await store.add_followup(p.guild_id, p.message_id, row[0], p.author_id,
                                         row[1], p.content, p.created_at)
        if added is not None:
            await post_to_modlog(guilds, services.poster, p.guild_id,
                                 views.followup_card(p.guild_id, added))

    load = services.classifier or functools.partial(load_sentiment, services.settings)
    labeller = Labeller(store, load, products=products, on_complaint=on_complaint,
                        settle_s=2 * writer.max_delay_s)

    async def observe(event: MessageEvent) -> None:
        msg = event.msg
        if msg.author_is_bot or msg.guild_key == DM_GUILD:
            return
        if not await event.addressed():
            labeller.wake()
            return
        await writer.flush()  # the answer waits for this message's label
        label = await labeller.label_now(Pending(msg.message_id, msg.guild_key, msg.author_id,
                                                 clean_text(msg.content), msg.created_at))
        if label is None:
            return
        event.labels.update(sentiment=label.sentiment, intent=label.intent)
        # Upset: this message is negative, or the member's complaint from today still waits.
        if label.sentiment == "negative" or await store.open_since(
                msg.guild_key, msg.author_id, msg.created_at - UPSET_WINDOW_MS):
            event.labels["mood"] = "upset"

    async def on_edit(edit: Edit) -> None:
        await store.relabel(edit.message_id)
        labeller.wake()

    async def insights(inv: Invocation) -> Reply:
        days = inv.get("days") or 14
        await labeller.classifier()  # so "unavailable" is known
        return await views.overview(store, inv.caller.guild_id, days, guilds.tz(inv.caller.guild_id),
                                    labeller.unavailable)

    async def profile(inv: Invocation) -> Reply:
        member: MemberRef = inv.get("member")
        tz = guilds.tz(inv.caller.guild_id)
        start, end = views.period(inv.get("days") or 30, tz)
        found = await store.profile(inv.caller.guild_id, member.user_id, start, end, tz)
        if found.messages == 0 and found.last_seen is None:
            return Reply(sanitize(f"I have no messages from {member.name} here yet."))
        return await views.profile_card(found)

    async def followup_list(inv: Invocation) -> Reply:
        guild = inv.caller.guild_id
        return Reply(views.followup_list(await store.followups(guild, limit=15),
                                         await store.open_count(guild)))

    async def resolve(guild: int, number: int, moderator: int, note: str) -> str:
        result = await store.resolve(guild, number, moderator, note)
        return {"resolved": f"Complaint {number} is marked resolved.",
                "already": f"Complaint {number} was already resolved.",
                "missing": f"There is no complaint {number}."}[result]

    async def followup_resolve(inv: Invocation) -> Reply:
        note = (inv.get("note") or "").strip() or "resolved"
        return Reply(await resolve(inv.caller.guild_id, inv.get("number"), inv.caller.user_id, note))

    async def press(p: Press) -> Reply:
        guild = p.caller.guild_id
        if guild is None or not p.data.isdigit():
            return Reply("That button no longer does anything.")
        text = await resolve(guild, int(p.data), p.caller.user_id, "marked resolved")
        f = await store.followup(guild, int(p.data))
        return Reply(text) if f is None else views.followup_card(guild, f).replacing()

    async def run_digests() -> None:
        """The job: each guild with classified messages gets last week's digest once."""
        while True:
            now = datetime.now(ZoneInfo("UTC"))
            week_ago = int((now - timedelta(days=14)).timestamp() * 1000)
            for (guild,) in await db.fetchall(
                    "SELECT DISTINCT guild_id FROM message_labels WHERE created_at >= ?", (week_ago,)):
                tz = guilds.tz(guild)
                due = last_digest_time(now, tz)
                if (now - due).total_seconds() > DIGEST_LATE_S:
                    continue
                if not isinstance(await guilds.modlog_channel(guild), int):
                    continue
                monday = datetime.combine(due.date(), dtime(0, 0), tz)
                if await store.claim_digest(guild, int(monday.timestamp() * 1000)):
                    await post_to_modlog(guilds, services.poster, guild,
                                         await views.digest(store, guild, tz, monday))
            await asyncio.sleep(DIGEST_CHECK_S)

    async def stop() -> None:
        labeller.close()

    days = Option("days", OptionKind.INTEGER, f"How many days back (1-{MAX_DAYS})", required=False,
                  low=1, high=MAX_DAYS)
    return Feature(
        name="insights",
        hooks=(MessageHook(Stage.OBSERVE, observe),),
        on_edit=on_edit,
        commands=(
            Command("insights", "Charts: community mood, products, active members, complaints",
                    insights, options=(days,), access=MODERATORS),
            Command("profile", "A member's mood, interests and open complaints", profile,
                    group="member", access=MODERATORS, options=(
                        Option("member", OptionKind.MEMBER, "Whose profile"), days)),
            Command("list", "Complaints waiting for a follow-up, the oldest first", followup_list,
                    group="followup", access=MODERATORS),
            Command("resolve", "Mark a complaint as followed up", followup_resolve,
                    group="followup", access=MODERATORS, options=(
                        Option("number", OptionKind.INTEGER, "The complaint's number", low=1),
                        Option("note", OptionKind.STRING, "What was done", required=False,
                               high=300))),
        ),
        components=(ComponentRoute(views.FOLLOWUP_ROUTE, press, access=MODERATORS),),
        jobs=(Job("classify", labeller.run), Job("weekly-digest", run_digests)),
        data=DataHooks(covers=("message_labels.author_id", "followups.user_id",
                               "followups.resolved_by"), export=store.export, delete=store.delete),
        stop=stop,
        requires=("archive",),
    )
