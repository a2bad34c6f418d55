"""What moderators see: the ``/insights`` overview, a member's profile card, the weekly
digest and a follow-up's card, each as a ``Reply`` with its charts attached.

Text is built from stored member text (names, complaint snapshots), so everything shown is
defused (``sanitize``) like generated text: a complaint that says ``@everyone`` pings
nobody when a moderator reads it.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.core.replies import Button, Embed, Field, File, Reply, custom_id
from bot.core.text import sanitize
from bot.insights import charts
from bot.insights.store import SENTIMENTS, Day, Followup, InsightsStore, Profile

FOLLOWUP_ROUTE = "followup"
QUOTE_CHARS = 300
LIST_CHARS = 1900


def _mood(days: list[Day]) -> float | None:
    n = sum(d.count for d in days)
    return sum(d.mean * d.count for d in days) / n if n else None


def mood_text(value: float | None) -> str:
    if value is None:
        return "no classified messages"
    word = "positive" if value > 0.2 else "negative" if value < -0.2 else "mixed"
    return f"{value:+.2f} ({word})"


def _mentioned(products: list[tuple[str, Counter]]) -> str:
    """"Most mentioned: Harbour shirt (12, mostly positive), …"."""
    return "Most mentioned: " + ", ".join(
        f"{sanitize(t)} ({sum(c.values())}, mostly {_leaning(c)})" for t, c in products) + "."


def _leaning(c: Counter) -> str:
    return max(reversed(SENTIMENTS), key=lambda k: c[k])  # a tie: the kinder


def period(days: int, tz: ZoneInfo, now: datetime | None = None) -> tuple[datetime, datetime]:
    """The last ``days`` local days, today included: [start of the first, start of tomorrow)."""
    today = (now or datetime.now(tz)).astimezone(tz).date()
    end = datetime.combine(today + timedelta(days=1), datetime.min.time(), tz)
    return end - timedelta(days=days), end


async def overview(store: InsightsStore, guild_id: int, days: int, tz: ZoneInfo,
                   unavailable: str | None) -> Reply:
    start, end = period(days, tz)
    since = int(start.timestamp() * 1000)
    daily = await store.days(guild_id, start, end, tz)
    products = await store.products(guild_id, since)
    active = await store.active(guild_id, since)
    complaints = await store.followups(guild_id, limit=15)
    total_open = await store.open_count(guild_id)
    span = f"the last {days} day{'s' if days != 1 else ''}"
    lines = [f"**Community insights, {span}** ({tz.key})",
             f"Messages classified: {sum(d.count for d in daily)}; mood {mood_text(_mood(daily))}.",
             f"Open complaints: {total_open} (see /followup list)."]
    if products:
        lines.append(_mentioned(products[:3]))
    if unavailable:
        lines.append(f"Note: messages are not being classified now ({sanitize(unavailable)}).")
    now_ms = int(time.time() * 1000)
    files = (
        File("sentiment-per-day.png", await charts.draw(
            charts.sentiment_by_day, daily, f"Community sentiment per day, {span}"),
            "Messages per day by sentiment, with the mean mood"),
        File("products.png", await charts.draw(
            charts.products, products, f"Most-mentioned products, {span}"),
            "Product mentions by sentiment"),
        File("active-members.png", await charts.draw(
            charts.active_members, active, f"Most active members, {span}"),
            "Messages per member"),
        File("open-complaints.png", await charts.draw(
            charts.open_complaints, complaints, now_ms, f"Open complaints ({total_open})"),
            "How long each open complaint has waited"),
    )
    return Reply("\n".join(lines), files=files)


def _when(ms: int | None) -> str:
    return "never" if ms is None else f"<t:{ms // 1000}:R>"


async def profile_card(profile: Profile) -> Reply:
    name = sanitize(profile.name)
    fields = [Field("Mood", mood_text(profile.mood), inline=True),
              Field("Messages", str(profile.messages), inline=True),
              Field("Last seen", _when(profile.last_seen), inline=True),
              Field("Products of interest", ", ".join(f"{sanitize(t)} ({n})" for t, n in
                                                      profile.products) or "none named")]
    if profile.complaints:
        fields.append(Field("Open complaints", "\n".join(
            f"#{f.number}: {sanitize(' '.join(f.content.split()))[:120]}" for f in profile.complaints)))
    if profile.questions:
        fields.append(Field("Unanswered questions", "\n".join(
            f"- {sanitize(' '.join(text.split()))[:120]}" for _, text in profile.questions)))
    days = len(profile.days)
    embed = Embed(title=f"Member profile: {name}", description=f"<@{profile.user_id}>, the "
                  f"last {days} day{'s' if days != 1 else ''}; first seen {_when(profile.first_seen)}.",
                  fields=tuple(fields))
    chart = await charts.draw(charts.member_trend, profile.days, profile.name)
    return Reply(embeds=(embed,), files=(File("member-mood.png", chart,
                                              f"{profile.name}'s mood per day"),))


def followup_card(guild_id: int, f: Followup) -> Reply:
    link = f"https://discord.com/channels/{guild_id}/{f.channel_id}/{f.message_id}"
    fields = [Field("Member", f"<@{f.user_id}>", inline=True),
              Field("Channel", f"<#{f.channel_id}>", inline=True),
              Field("Message", link)]
    if f.resolution:
        who = f" by <@{f.resolved_by}>" if f.resolved_by else ""
        fields.append(Field("Resolved", sanitize(f.resolution) + who))
    embed = Embed(title=f"Complaint {f.number}: follow up",
                  description="> " + sanitize(" ".join(f.content.split()))[:QUOTE_CHARS],
                  fields=tuple(fields))
    buttons = () if f.resolution else (
        Button("Mark resolved", custom_id(FOLLOWUP_ROUTE, str(f.number)), "success"),)
    return Reply(embeds=(embed,), components=buttons)


def followup_list(rows: list[Followup], total: int) -> str:
    if not rows:
        return "No open complaints. Nothing waits for a follow-up."
    lines = [f"**Open complaints: {total}**, the longest waiting first:"]
    footer = "Mark one done with /followup resolve number:N."
    size = len(lines[0]) + len(footer) + 40
    for shown, f in enumerate(rows):
        text = sanitize(" ".join(f.content.split()))[:140]
        line = f"#{f.number} <@{f.user_id}> in <#{f.channel_id}>, {_when(f.created_at)}: {text}"
        if size + len(line) + 1 > LIST_CHARS:  # one Discord message
            lines.append(f"… and {total - shown} more.")
            break
        lines.append(line)
        size += len(line) + 1
    lines.append(footer)
    return "\n".join(lines)


async def digest(store: InsightsStore, guild_id: int, tz: ZoneInfo, end: datetime) -> Reply:
    """The week up to ``end`` (a local Monday 00:00), against the week before."""
    start = end - timedelta(days=7)
    week = await store.days(guild_id, start, end, tz)
    before = await store.days(guild_id, start - timedelta(days=7), start, tz)
    products = await store.products(guild_id, int(start.timestamp() * 1000), limit=5)
    active = await store.active(guild_id, int(start.timestamp() * 1000), limit=3)
    total_open = await store.open_count(guild_id)
    last = (end - timedelta(days=1)).date()
    lines = [f"**Weekly digest, {start.date():%d %b} to {last:%d %b}**",
             f"Classified messages: {sum(d.count for d in week)} (the week before: "
             f"{sum(d.count for d in before)}).",
             f"Mood: {mood_text(_mood(week))}; the week before: {mood_text(_mood(before))}.",
             f"Open complaints: {total_open}" + (" (see /followup list)." if total_open else ".")]
    if products:
        lines.append(_mentioned(products))
    if active:
        lines.append("Most active: " + ", ".join(f"{sanitize(n)} ({k})" for n, k in active) + ".")
    chart = await charts.draw(charts.sentiment_by_day, week,
                              f"Sentiment per day, {start.date():%d %b} to {last:%d %b}")
    return Reply("\n".join(lines), files=(File("weekly-sentiment.png", chart,
                                                "Messages per day by sentiment"),))
