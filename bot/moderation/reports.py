"""The review queue: reports of messages, by members ("Report to moderators") and by
automod's ``flag`` action, until a moderator resolves them (``mod_reports``, migration 0009).

A message has at most one open report: a second member reporting it joins that report,
and a member reporting it twice counts once, so the count moderators see is people, not
clicks. A moderator's press first claims the report (open → resolving, compare-and-set),
then acts, then resolves it or hands it back: two moderators pressing at once cannot both
act on one report. A claim older than ``CLAIM_S`` (the bot stopped mid-way) may be taken
again.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields

from bot.store import Database

MAX_CONTENT = 4000
CLAIM_S = 600
SOURCES = ("member", "automod")


class ReportError(ValueError):
    """A report that cannot be filed or resolved as asked; the message says why."""


@dataclass(frozen=True)
class Report:
    id: int
    guild_id: int
    number: int
    source: str
    channel_id: int
    message_id: int
    author_id: int
    reason: str
    content: str | None
    attachments: tuple[str, ...]
    deleted: bool
    created_at: int
    status: str
    resolution: str | None
    resolved_by: int | None
    resolved_at: int | None
    case_number: int | None
    reporters: int = 0  # how many members reported it


_NAMES = [f.name for f in fields(Report) if f.name != "reporters"]
_COLUMNS = ", ".join(f"r.{n}" for n in _NAMES)
_SELECT = (f"SELECT {_COLUMNS}, (SELECT COUNT(*) FROM mod_report_reporters p "
           "WHERE p.report_id = r.id) FROM mod_reports r")


def _report(row) -> Report:
    values = dict(zip([*_NAMES, "reporters"], row))
    values["attachments"] = tuple(json.loads(values["attachments"]))
    values["deleted"] = bool(values["deleted"])
    return Report(**values)


class ReportQueue:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock() * 1000)

    async def file(self, guild_id: int, *, source: str, channel_id: int, message_id: int,
                   author_id: int, reason: str, content: str | None,
                   attachments: Sequence[str] = (), reporter_id: int | None = None,
                   deleted: bool = False) -> tuple[Report, bool]:
        """The open report on the message, and whether this call filed it (False: it
        joined one already open, or the reporter had already reported it)."""
        if source not in SOURCES:
            raise ReportError(f"unknown source {source!r}")
        reason = " ".join(reason.split())
        if not reason:
            raise ReportError("a report needs a reason")
        now = self._now()
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "SELECT id FROM mod_reports WHERE guild_id = ? AND message_id = ? "
                "AND status != 'resolved'",
                (guild_id, message_id))
            row = await cursor.fetchone()
            new = row is None
            if new:
                cursor = await conn.execute(
                    "INSERT INTO mod_reports (guild_id, number, source, channel_id, message_id, "
                    "author_id, reason, content, attachments, deleted, created_at) "
                    "SELECT ?, COALESCE(MAX(number), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ?, ? "
                    "FROM mod_reports WHERE guild_id = ?",
                    (guild_id, source, channel_id, message_id, author_id, reason[:1000],
                     (content or None) and content[:MAX_CONTENT],
                     json.dumps([str(a)[:200] for a in attachments][:20]), int(deleted), now,
                     guild_id))
                report_id = cursor.lastrowid
            else:
                report_id = row[0]
            if reporter_id is not None:
                await conn.execute("INSERT OR IGNORE INTO mod_report_reporters VALUES (?, ?, ?)",
                                   (report_id, reporter_id, now))  # twice counts once
        return await self._by_id(report_id), new

    async def _by_id(self, report_id: int) -> Report:
        return _report(await self._db.fetchone(f"{_SELECT} WHERE r.id = ?", (report_id,)))

    async def get(self, guild_id: int, number: int) -> Report | None:
        row = await self._db.fetchone(f"{_SELECT} WHERE r.guild_id = ? AND r.number = ?",
                                      (guild_id, number))
        return None if row is None else _report(row)

    async def open_reports(self, guild_id: int, limit: int = 5) -> tuple[list[Report], int]:
        """The oldest open reports first (a queue), and how many are open."""
        total = (await self._db.fetchone(
            "SELECT COUNT(*) FROM mod_reports WHERE guild_id = ? AND status != 'resolved'",
            (guild_id,)))[0]
        rows = await self._db.fetchall(
            f"{_SELECT} WHERE r.guild_id = ? AND r.status != 'resolved' ORDER BY r.number LIMIT ?",
            (guild_id, limit))
        return [_report(r) for r in rows], total

    async def claim(self, guild_id: int, number: int, by: int) -> Report:
        """Take the report for one moderator's action; ReportError if there is none, it is
        resolved, or another moderator is acting on it."""
        now = self._now()
        changed = await self._db.write(
            "UPDATE mod_reports SET status = 'resolving', resolved_by = ?, resolved_at = ? "
            "WHERE guild_id = ? AND number = ? AND (status = 'open' OR (status = 'resolving' "
            "AND resolved_at < ?))", (by, now, guild_id, number, now - CLAIM_S * 1000))
        report = await self.get(guild_id, number)
        if report is None:
            raise ReportError(f"there is no report {number}")
        if not changed:
            raise ReportError(f"report {number} is being resolved by another moderator"
                              if report.status == "resolving" else
                              f"report {number} was already resolved ({report.resolution})")
        return report

    async def release(self, report: Report) -> None:
        """Hand a claimed report back (the action was refused; nothing changed)."""
        await self._db.write("UPDATE mod_reports SET status = 'open', resolved_by = NULL, "
                             "resolved_at = NULL WHERE id = ? AND status = 'resolving'", (report.id,))

    async def resolve(self, guild_id: int, number: int, by: int, resolution: str, *,
                      case_number: int | None = None, deleted: bool = False) -> Report:
        """Mark a claimed report resolved; ReportError if it was not claimed by ``by``."""
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "UPDATE mod_reports SET status = 'resolved', resolution = ?, resolved_by = ?, "
                "resolved_at = ?, case_number = ?, deleted = deleted OR ? "
                "WHERE guild_id = ? AND number = ? AND status = 'resolving' AND resolved_by = ?",
                (resolution, by, self._now(), case_number, int(deleted), guild_id, number, by))
            changed = cursor.rowcount
        report = await self.get(guild_id, number)
        if report is None:
            raise ReportError(f"there is no report {number}")
        if not changed:
            raise ReportError(f"report {number} was not claimed by that moderator")
        return report

    # Member data ----------------------------------------------------------------------

    async def export(self, guild_id: int, user_id: int) -> dict:
        about = await self._db.fetchall(
            f"{_SELECT} WHERE r.guild_id = ? AND r.author_id = ? ORDER BY r.number", (guild_id, user_id))
        made = await self._db.fetchall(
            "SELECT r.number, p.created_at FROM mod_report_reporters p JOIN mod_reports r "
            "ON r.id = p.report_id WHERE r.guild_id = ? AND p.user_id = ? ORDER BY r.number",
            (guild_id, user_id))
        return {"reports_about_your_messages": [_export(_report(r)) for r in about],
                "reports_you_made": [{"report": r[0], "at": r[1]} for r in made]}

    async def forget(self, guild_id: int, user_id: int) -> int:
        """A deletion request: reports about the member's messages stay without their
        content; their own reports of others go; what they resolved is unlinked."""
        async with self._db.transaction() as conn:
            changed = 0
            for sql in (
                "UPDATE mod_reports SET content = NULL, attachments = '[]' WHERE guild_id = ? "
                "AND author_id = ? AND (content IS NOT NULL OR attachments != '[]')",
                "DELETE FROM mod_report_reporters WHERE user_id = ?2 AND report_id IN "
                "(SELECT id FROM mod_reports WHERE guild_id = ?1)",
                "UPDATE mod_reports SET resolved_by = NULL WHERE guild_id = ? AND resolved_by = ?",
            ):
                cursor = await conn.execute(sql, (guild_id, user_id))
                changed += cursor.rowcount
            return changed


def _export(report: Report) -> dict:
    """A report about the member's message, with how many reported it but not who (that
    is the reporters' data, and telling would expose them)."""
    out = {name: getattr(report, name) for name in _NAMES if name not in ("id", "guild_id")}
    out["attachments"] = list(report.attachments)
    out["reporters"] = report.reporters
    return out
