"""Scheduled posts in SQLite (``scheduled_posts``, ``scheduled_deliveries``; migration 0010).

Every state change is one statement or one transaction that checks the state it expects
(compare-and-set), so whichever process or coroutine gets there second changes nothing:
  * ``claim`` moves the earliest due item from ``scheduled`` to ``sending`` for one
    dispatcher (its ``token``);
  * ``finish`` records the occurrence in ``scheduled_deliveries`` (whose primary key
    refuses a second delivery of one occurrence) and moves the item on, to its next
    occurrence or to ``done``, only while that dispatcher still holds the claim;
  * ``stale`` lists claims older than the lease, for reconciliation, and ``release``
    hands one back to ``scheduled``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from bot.schedule.recurrence import Recurrence, next_after
from bot.store import Database

log = logging.getLogger(__name__)

STATES = ("scheduled", "sending", "paused", "done", "cancelled", "failed")
STATUSES = ("sent", "late", "missed", "failed")
MAX_TEXT = 2000


class ScheduleError(ValueError):
    """A post that cannot be scheduled or changed as asked; the message says why."""


@dataclass(frozen=True)
class Item:
    id: int
    guild_id: int
    number: int
    channel_id: int
    text: str
    ping_role_id: int | None
    kind: str
    event_id: int | None
    first_at: int
    due_at: int
    recurrence: str | None
    until_at: int | None
    tz: str
    state: str
    claim_token: str | None
    claimed_at: int | None
    last_message_id: int | None
    sent_count: int

    def next_due(self, after_ms: int) -> int | None:
        """The next occurrence after ``after_ms`` (ms), or None when the series is over."""
        if self.recurrence is None:
            return None
        tz = ZoneInfo(self.tz)
        nxt = next_after(_dt(self.first_at), Recurrence.parse(self.recurrence), _dt(after_ms), tz)
        at = int(nxt.timestamp() * 1000)
        return None if self.until_at is not None and at > self.until_at else at


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


_NAMES = [f.name for f in fields(Item)]
_COLUMNS = ", ".join(_NAMES)


def _item(row) -> Item:
    return Item(**dict(zip(_NAMES, row)))


class ScheduleStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, guild_id: int, channel_id: int, text: str, due_at: int, *, tz: str,
                  now: int, recurrence: str | None = None, until_at: int | None = None,
                  ping_role_id: int | None = None, created_by: int | None = None,
                  kind: str = "announcement", event_id: int | None = None,
                  first_at: int | None = None) -> Item:
        """``first_at`` anchors a recurrence (default: ``due_at``), so a series approved
        after its first time keeps that time of day."""
        text = text.strip()
        if not text or len(text) > MAX_TEXT:
            raise ScheduleError(f"a post needs 1 to {MAX_TEXT} characters")
        try:
            ZoneInfo(tz)
        except (KeyError, ValueError, OSError):
            raise ScheduleError(f"unknown time zone {tz!r}") from None
        if recurrence is not None:
            recurrence = Recurrence.parse(recurrence).text
        if until_at is not None and until_at < due_at:
            raise ScheduleError("the end is before the first post")
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO scheduled_posts (guild_id, number, channel_id, text, ping_role_id, "
                "kind, event_id, first_at, due_at, recurrence, until_at, tz, created_by, "
                "created_at, updated_at) SELECT ?, COALESCE(MAX(number), 0) + 1, ?, ?, ?, ?, ?, "
                "?, ?, ?, ?, ?, ?, ?, ? FROM scheduled_posts WHERE guild_id = ?",
                (guild_id, channel_id, text, ping_role_id, kind, event_id,
                 due_at if first_at is None else first_at, due_at, recurrence, until_at, tz,
                 created_by, now, now, guild_id))
            item_id = cursor.lastrowid
        return await self.by_id(item_id)

    async def by_id(self, item_id: int) -> Item:
        return _item(await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM scheduled_posts WHERE id = ?", (item_id,)))

    async def get(self, guild_id: int, number: int) -> Item | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM scheduled_posts WHERE guild_id = ? AND number = ?",
            (guild_id, number))
        return None if row is None else _item(row)

    async def listing(self, guild_id: int, limit: int = 25) -> list[Item]:
        """What is still to come (scheduled, sending, paused), soonest first."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM scheduled_posts WHERE guild_id = ? AND state IN "
            "('scheduled', 'sending', 'paused') ORDER BY due_at LIMIT ?", (guild_id, limit))
        return [_item(r) for r in rows]

    async def for_event(self, guild_id: int, event_id: int) -> list[Item]:
        """An event's reminders that are still to come."""
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM scheduled_posts WHERE guild_id = ? AND event_id = ? AND "
            "state IN ('scheduled', 'paused') ORDER BY due_at", (guild_id, event_id))
        return [_item(r) for r in rows]

    async def next_due(self) -> int | None:
        row = await self._db.fetchone(
            "SELECT MIN(due_at) FROM scheduled_posts WHERE state = 'scheduled'")
        return row[0]

    async def claim(self, now: int, token: str) -> Item | None:
        """Take the earliest due item for this dispatcher, or None when nothing is due."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE scheduled_posts SET state = 'sending', claim_token = ?, claimed_at = ?, "
                "updated_at = ? WHERE id = (SELECT id FROM scheduled_posts WHERE state = "
                "'scheduled' AND due_at <= ? ORDER BY due_at, id LIMIT 1) AND state = 'scheduled' "
                f"RETURNING {_COLUMNS}", (token, now, now, now))
            row = await cursor.fetchone()
        return None if row is None else _item(row)

    async def stale(self, older_than: int) -> list[Item]:
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM scheduled_posts WHERE state = 'sending' AND claimed_at < ?",
            (older_than,))
        return [_item(r) for r in rows]

    async def take_over(self, item: Item, token: str, now: int) -> Item | None:
        """Claim a stale item for reconciliation (compare-and-set on the old claim)."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE scheduled_posts SET claim_token = ?, claimed_at = ?, updated_at = ? "
                "WHERE id = ? AND state = 'sending' AND claim_token IS ? AND claimed_at IS ? "
                f"RETURNING {_COLUMNS}", (token, now, now, item.id, item.claim_token, item.claimed_at))
            row = await cursor.fetchone()
        return None if row is None else _item(row)

    async def release(self, item: Item, token: str, now: int) -> bool:
        """Hand a claimed item back to ``scheduled`` (it was not posted)."""
        return bool(await self._db.write(
            "UPDATE scheduled_posts SET state = 'scheduled', claim_token = NULL, claimed_at = NULL, "
            "updated_at = ? WHERE id = ? AND state = 'sending' AND claim_token = ?",
            (now, item.id, token)))

    async def finish(self, item: Item, token: str, status: str, now: int, *,
                     message_id: int | None = None, next_due: int | None = None,
                     error: str | None = None) -> bool:
        """Record this occurrence and move the item on; False when the claim was lost
        (another dispatcher reconciled it) or the occurrence was already delivered."""
        if status not in STATUSES:
            raise ScheduleError(f"unknown delivery status {status!r}")
        state = "failed" if status == "failed" else ("scheduled" if next_due else "done")
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE scheduled_posts SET state = ?, due_at = COALESCE(?, due_at), "
                "claim_token = NULL, claimed_at = NULL, last_message_id = COALESCE(?, last_message_id), "
                "sent_count = sent_count + ?, error = ?, updated_at = ? "
                "WHERE id = ? AND state = 'sending' AND claim_token = ?",
                (state, next_due, message_id, int(status in ("sent", "late")), error, now,
                 item.id, token))
            if not cursor.rowcount:
                return False
            cursor = await conn.execute(
                "INSERT OR IGNORE INTO scheduled_deliveries VALUES (?, ?, ?, ?, ?)",
                (item.id, item.due_at, status, message_id, now))
            if not cursor.rowcount:  # cannot happen while claims are compare-and-set
                log.error("occurrence %d of scheduled post %d was recorded before", item.due_at, item.id)
        return True

    async def set_state(self, guild_id: int, number: int, new: str, allowed: tuple[str, ...],
                        now: int, due_at: int | None = None) -> Item:
        """Pause, resume or cancel: only from one of the ``allowed`` states."""
        item = await self.get(guild_id, number)
        if item is None:
            raise ScheduleError(f"there is no scheduled post {number}")
        changed = await self._db.write(
            f"UPDATE scheduled_posts SET state = ?, due_at = COALESCE(?, due_at), updated_at = ? "
            f"WHERE id = ? AND state IN ({', '.join('?' * len(allowed))})",
            (new, due_at, now, item.id, *allowed))
        if not changed:
            raise ScheduleError(f"post {number} is {item.state}; it cannot be made {new}")
        return await self.by_id(item.id)

    async def edit(self, guild_id: int, number: int, now: int, *, text: str | None = None,
                   due_at: int | None = None) -> Item:
        """Change a post that has not gone out yet (scheduled or paused)."""
        if text is not None and not 0 < len(text.strip()) <= MAX_TEXT:
            raise ScheduleError(f"a post needs 1 to {MAX_TEXT} characters")
        item = await self.get(guild_id, number)
        if item is None:
            raise ScheduleError(f"there is no scheduled post {number}")
        changed = await self._db.write(
            "UPDATE scheduled_posts SET text = COALESCE(?, text), due_at = COALESCE(?, due_at), "
            "first_at = COALESCE(?, first_at), updated_at = ? WHERE id = ? AND state IN "
            "('scheduled', 'paused')",
            (text and text.strip(), due_at, due_at, now, item.id))
        if not changed:
            raise ScheduleError(f"post {number} is {item.state}; only a post still to come can change")
        return await self.by_id(item.id)
