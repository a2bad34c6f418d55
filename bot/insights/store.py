"""What the insights keep (migration 0012) and the sums the charts and profiles are drawn
from: per-message labels, the products a message names, and the complaint follow-up list.

Days are the guild's calendar days (its time zone), so "Tuesday" on the chart is the
moderators' Tuesday. The sums are made in Python over one period's labels: a period is
weeks, not years, and bucketing by local day in SQL would need the zone's offsets.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from bot.store import DM_GUILD, Database

DAY_MS = 86_400_000
SENTIMENTS = ("negative", "neutral", "positive")  # what a sentiment classifier says
_FOLLOWUP = ("number, user_id, user_name, channel_id, message_id, content, created_at, "
             "resolved_at, resolution, resolved_by")
QUESTION_OPEN_DAYS = 7  # a question nobody replied to stays "open" on the profile this long
RECENT = 2_000  # messages a wake of the labelling job looks at


@dataclass(frozen=True)
class Pending:
    """A member message still to classify."""

    message_id: int
    guild_id: int
    author_id: int
    content: str
    created_at: int


@dataclass(frozen=True)
class Label:
    message_id: int
    sentiment: str
    score: float  # p(positive) - p(negative)
    intent: str
    products: tuple[int, ...] = ()  # kb entry ids the message names


@dataclass(frozen=True)
class Day:
    day: date
    negative: int
    neutral: int
    positive: int
    mean: float  # mean score, -1 to 1

    @property
    def count(self) -> int:
        return self.negative + self.neutral + self.positive


@dataclass(frozen=True)
class Followup:
    number: int
    user_id: int
    user_name: str
    channel_id: int
    message_id: int
    content: str
    created_at: int
    resolved_at: int | None = None
    resolution: str | None = None
    resolved_by: int | None = None


@dataclass(frozen=True)
class Profile:
    user_id: int
    name: str
    messages: int          # in the period
    first_seen: int | None
    last_seen: int | None
    days: list[Day]
    products: list[tuple[str, int]]   # (product, mentions), most first
    complaints: list[Followup]         # open
    questions: list[tuple[int, str]]   # (message id, text): unanswered, recent

    @property
    def mood(self) -> float | None:
        """The member's mean score over the period, None without labelled messages."""
        n = sum(d.count for d in self.days)
        return sum(d.mean * d.count for d in self.days) / n if n else None


def _now_ms() -> int:
    return int(time.time() * 1000)


class InsightsStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # Labelling -----------------------------------------------------------------------------

    async def pending(self, limit: int, skip: set[int] = frozenset(),
                      recent: int | None = RECENT) -> list[Pending]:
        """Member messages in guilds that have no label yet, newest first (what members say
        now matters most), except those in ``skip``. Only the newest ``recent`` messages
        are looked at, so a wake costs the same on a million-message archive; None looks
        at all of them (the backlog, now and then)."""
        source = ("(SELECT * FROM messages ORDER BY message_id DESC LIMIT ?)" if recent
                  else "messages")
        rows = await self.db.fetchall(
            "SELECT m.message_id, m.guild_id, m.author_id, m.content, m.created_at "
            f"FROM {source} m LEFT JOIN message_labels l ON l.message_id = m.message_id "
            "WHERE l.message_id IS NULL AND m.is_bot = 0 AND m.guild_id <> ? "
            "AND length(trim(m.content)) > 0 "
            "AND m.message_id NOT IN (SELECT value FROM json_each(?)) "
            "ORDER BY m.message_id DESC LIMIT ?",
            ((recent,) if recent else ()) + (DM_GUILD, json.dumps(sorted(skip)), limit))
        return [Pending(*r) for r in rows]

    async def save(self, labels: Sequence[Label], texts: Sequence[str] | None = None) -> set[int]:
        """Store labels; the ids stored. A label is skipped when its message was deleted
        meanwhile, or (given the ``texts`` that were classified) edited meanwhile: the edit
        dropped the old label, and the new text is classified again."""
        now = _now_ms()
        stored: set[int] = set()
        async with self.db.transaction() as conn:
            for i, label in enumerate(labels):
                text = None if texts is None else texts[i]
                cursor = await conn.execute(
                    "INSERT OR REPLACE INTO message_labels (message_id, guild_id, author_id, "
                    "created_at, sentiment, score, intent, labelled_at) SELECT message_id, "
                    "guild_id, author_id, created_at, ?, ?, ?, ? FROM messages "
                    "WHERE message_id = ? AND (? IS NULL OR content = ?)",
                    (label.sentiment, max(-1.0, min(1.0, label.score)), label.intent, now,
                     label.message_id, text, text))
                if cursor.rowcount:
                    stored.add(label.message_id)
                    await conn.executemany(
                        "INSERT OR IGNORE INTO message_products (message_id, entry_id) "
                        "SELECT ?, id FROM kb_entries WHERE id = ?",
                        [(label.message_id, entry) for entry in label.products])
        return stored

    async def relabel(self, message_id: int) -> None:
        """An edited message is classified again."""
        await self.db.write("DELETE FROM message_labels WHERE message_id = ?", (message_id,))

    async def label(self, message_id: int) -> tuple[str, float, str] | None:
        row = await self.db.fetchone(
            "SELECT sentiment, score, intent FROM message_labels WHERE message_id = ?", (message_id,))
        return None if row is None else (row[0], row[1], row[2])

    # Follow-ups ----------------------------------------------------------------------------

    async def add_followup(self, guild_id: int, message_id: int, channel_id: int, user_id: int,
                           user_name: str, content: str, created_at: int) -> Followup | None:
        """Put a complaint on the list; None if it is already there, or its message is
        gone (erased: nothing may be derived from it any more)."""
        async with self.db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO followups (guild_id, number, message_id, channel_id, "
                "user_id, user_name, content, created_at) SELECT ?, (SELECT COALESCE(MAX(number), "
                "0) + 1 FROM followups WHERE guild_id = ?), ?, ?, ?, ?, ?, ? "
                "WHERE EXISTS (SELECT 1 FROM messages WHERE message_id = ?)",
                (guild_id, guild_id, message_id, channel_id, user_id, user_name, content,
                 created_at, message_id))
            if not cursor.rowcount:
                return None
            row = await (await conn.execute(
                f"SELECT {_FOLLOWUP} FROM followups WHERE message_id = ?", (message_id,))).fetchone()
            return Followup(*row)

    async def followup(self, guild_id: int, number: int) -> Followup | None:
        row = await self.db.fetchone(
            f"SELECT {_FOLLOWUP} FROM followups WHERE guild_id = ? AND number = ?",
            (guild_id, number))
        return None if row is None else Followup(*row)

    async def followups(self, guild_id: int, *, user_id: int | None = None,
                        limit: int = 25) -> list[Followup]:
        """Open follow-ups, oldest first (the longest waiting come first)."""
        rows = await self.db.fetchall(
            f"SELECT {_FOLLOWUP} FROM followups WHERE guild_id = ? AND resolved_at IS NULL "
            "AND (? IS NULL OR user_id = ?) ORDER BY created_at, number LIMIT ?",
            (guild_id, user_id, user_id, limit))
        return [Followup(*r) for r in rows]

    async def open_since(self, guild_id: int, user_id: int, since_ms: int) -> bool:
        """Whether the member has an open follow-up made since then."""
        return await self.db.fetchone(
            "SELECT 1 FROM followups WHERE user_id = ? AND guild_id = ? AND created_at >= ? "
            "AND resolved_at IS NULL LIMIT 1", (user_id, guild_id, since_ms)) is not None

    async def open_count(self, guild_id: int) -> int:
        row = await self.db.fetchone(
            "SELECT count(*) FROM followups WHERE guild_id = ? AND resolved_at IS NULL", (guild_id,))
        return row[0]

    async def resolve(self, guild_id: int, number: int, moderator: int, resolution: str) -> str:
        """Mark a follow-up resolved: "resolved", "already" or "missing"."""
        cursor_rows = await self.db.write(
            "UPDATE followups SET resolved_by = ?, resolved_at = ?, resolution = ? "
            "WHERE guild_id = ? AND number = ? AND resolved_at IS NULL",
            (moderator, _now_ms(), resolution, guild_id, number))
        if cursor_rows:
            return "resolved"
        row = await self.db.fetchone(
            "SELECT 1 FROM followups WHERE guild_id = ? AND number = ?", (guild_id, number))
        return "missing" if row is None else "already"

    # Sums ----------------------------------------------------------------------------------

    async def days(self, guild_id: int, start: datetime, end: datetime, tz: ZoneInfo,
                   user_id: int | None = None) -> list[Day]:
        """Sentiment per local day from ``start`` to ``end`` (aware datetimes), every day
        present, empty ones as zeros."""
        rows = await self.db.fetchall(
            "SELECT created_at, sentiment, score FROM message_labels WHERE guild_id = ? "
            "AND created_at >= ? AND created_at < ? AND (? IS NULL OR author_id = ?)",
            (guild_id, int(start.timestamp() * 1000), int(end.timestamp() * 1000),
             user_id, user_id))
        counts: dict[date, Counter] = {}
        sums: Counter = Counter()
        for created, sentiment, score in rows:
            day = datetime.fromtimestamp(created / 1000, tz).date()
            counts.setdefault(day, Counter())[sentiment] += 1
            sums[day] += score
        first, last = start.astimezone(tz).date(), (end - timedelta(microseconds=1)).astimezone(tz).date()
        out = []
        for i in range((last - first).days + 1):
            day = first + timedelta(days=i)
            c = counts.get(day, Counter())
            n = sum(c.values())
            out.append(Day(day, c["negative"], c["neutral"], c["positive"],
                           sums[day] / n if n else 0.0))
        return out

    async def products(self, guild_id: int, since_ms: int, limit: int = 10,
                       user_id: int | None = None) -> list[tuple[str, Counter]]:
        """The most-mentioned catalog products since then, with their sentiment counts."""
        rows = await self.db.fetchall(
            "SELECT e.title, l.sentiment, count(*) FROM message_products p "
            "JOIN message_labels l ON l.message_id = p.message_id "
            "JOIN kb_entries e ON e.id = p.entry_id "
            "WHERE l.guild_id = ? AND l.created_at >= ? AND (? IS NULL OR l.author_id = ?) "
            "GROUP BY e.id, l.sentiment", (guild_id, since_ms, user_id, user_id))
        by: dict[str, Counter] = {}
        for title, sentiment, n in rows:
            by.setdefault(title, Counter())[sentiment] += n
        return sorted(by.items(), key=lambda kv: (-sum(kv[1].values()), kv[0]))[:limit]

    async def active(self, guild_id: int, since_ms: int, limit: int = 10) -> list[tuple[str, int]]:
        """The members who wrote the most messages since then: (name, messages)."""
        rows = await self.db.fetchall(
            "SELECT COALESCE(mb.display_name, ''), count(*) AS n, m.author_id FROM messages m "
            "LEFT JOIN members mb ON mb.guild_id = m.guild_id AND mb.user_id = m.author_id "
            "WHERE m.guild_id = ? AND m.is_bot = 0 AND m.created_at >= ? "
            "GROUP BY m.author_id ORDER BY n DESC, m.author_id LIMIT ?",
            (guild_id, since_ms, limit))
        return [(name or str(author), n) for name, n, author in rows]

    async def profile(self, guild_id: int, user_id: int, start: datetime, end: datetime,
                      tz: ZoneInfo) -> Profile:
        since = int(start.timestamp() * 1000)
        member = await self.db.fetchone(
            "SELECT display_name, first_seen, last_seen FROM members "
            "WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
        count = await self.db.fetchone(
            "SELECT count(*) FROM messages WHERE guild_id = ? AND author_id = ? AND created_at >= ?",
            (guild_id, user_id, since))
        questions = await self.db.fetchall(
            "SELECT m.message_id, m.content FROM message_labels l "
            "JOIN messages m ON m.message_id = l.message_id "
            "WHERE l.guild_id = ? AND l.author_id = ? AND l.intent = 'question' AND l.created_at >= ? "
            "AND NOT EXISTS (SELECT 1 FROM messages r WHERE r.reply_to_id = m.message_id) "
            "ORDER BY m.message_id DESC LIMIT 5",
            (guild_id, user_id, max(since, _now_ms() - QUESTION_OPEN_DAYS * DAY_MS)))
        products = await self.products(guild_id, since, 5, user_id)
        return Profile(
            user_id=user_id, name=member[0] if member else str(user_id), messages=count[0],
            first_seen=member[1] if member else None, last_seen=member[2] if member else None,
            days=await self.days(guild_id, start, end, tz, user_id),
            products=[(title, sum(c.values())) for title, c in products],
            complaints=await self.followups(guild_id, user_id=user_id, limit=5),
            questions=[(r[0], r[1]) for r in questions])

    # Digests -------------------------------------------------------------------------------

    async def claim_digest(self, guild_id: int, week: int) -> bool:
        """True once per guild and week: the caller posts that week's digest."""
        return bool(await self.db.write(
            "INSERT OR IGNORE INTO insight_digests (guild_id, week, posted_at) VALUES (?, ?, ?)",
            (guild_id, week, _now_ms())))

    # Member data ---------------------------------------------------------------------------

    async def export(self, guild_id: int, user_id: int) -> dict:
        labels = await self.db.fetchall(
            "SELECT l.message_id, l.sentiment, l.score, l.intent, l.created_at, "
            "(SELECT json_group_array(e.title) FROM message_products p JOIN kb_entries e "
            "ON e.id = p.entry_id WHERE p.message_id = l.message_id) FROM message_labels l "
            "WHERE l.guild_id = ? AND l.author_id = ? ORDER BY l.message_id", (guild_id, user_id))
        followups = await self.db.fetchall(
            "SELECT number, message_id, content, created_at, resolved_at, resolution "
            "FROM followups WHERE guild_id = ? AND user_id = ? ORDER BY number",
            (guild_id, user_id))
        return {
            "message_labels": [{"message_id": str(r[0]), "sentiment": r[1], "score": round(r[2], 4),
                                "intent": r[3], "created_at": r[4],
                                "products": json.loads(r[5] or "[]")} for r in labels],
            "followups": [{"number": r[0], "message_id": str(r[1]), "content": r[2],
                           "created_at": r[3], "resolved_at": r[4], "resolution": r[5]}
                          for r in followups],
        }

    async def delete(self, guild_id: int, user_id: int) -> int:
        async with self.db.transaction() as conn:
            labels = await conn.execute(
                "DELETE FROM message_labels WHERE guild_id = ? AND author_id = ?", (guild_id, user_id))
            followups = await conn.execute(
                "DELETE FROM followups WHERE guild_id = ? AND user_id = ?", (guild_id, user_id))
            count = labels.rowcount + followups.rowcount
        return count + await self.db.unlink("followups", ("resolved_by",), guild_id, user_id)
