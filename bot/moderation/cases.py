"""Cases: the record of every moderation action, with expiring warnings and escalation.

A case is opened for every action, a moderator's or automod's, with a required reason and
a snapshot of the evidence (the message may be gone after the action). Numbers count per
guild and are taken inside the inserting transaction, so two actions at once never share
one (and the schema's UNIQUE constraint would refuse it if they tried).

Warnings count towards escalation while they are active: not closed, not expired
(``warn_expiry_days`` after they were given; 0 keeps them), and given within the last
``escalate_window_days``. When a warning makes ``escalate_after`` of them active, the
caller gets the timeout to apply (``Escalation``), once per that many warnings. The clock
is injected, so tests move time instead of waiting.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace

from bot.store import Database

ACTIONS = ("warn", "timeout", "untimeout", "kick", "ban", "unban", "delete", "flag", "purge")
ESCALATION = "escalation"   # the rule name on a timeout that escalation opened
MAX_REASON, MAX_NOTE, MAX_EVIDENCE = 1000, 1000, 4000
DAY_MS = 86_400_000


class CaseError(ValueError):
    """A case that cannot be opened or changed as asked; the message says why."""


@dataclass(frozen=True)
class Policy:
    warn_expiry_days: int = 30
    escalate_after: int = 3          # 0: never escalate
    escalate_window_days: int = 7
    escalate_timeout_minutes: int = 60
    dm_members: bool = False
    appeal_text: str | None = None

    LIMITS = {"warn_expiry_days": (0, 3650), "escalate_after": (0, 100),
              "escalate_window_days": (1, 3650), "escalate_timeout_minutes": (1, 40320)}


@dataclass(frozen=True)
class Case:
    id: int
    guild_id: int
    number: int
    action: str
    user_id: int
    actor_id: int
    rule: str | None
    reason: str
    evidence: str | None
    attachments: tuple[str, ...]
    channel_id: int | None
    message_id: int | None
    duration_s: int | None
    created_at: int
    expires_at: int | None
    closed_at: int | None
    closed_by: int | None


@dataclass(frozen=True)
class Escalation:
    minutes: int
    warnings: int  # the active warnings that triggered it


_COLUMNS = ", ".join(f.name for f in fields(Case))


def _case(row) -> Case:
    values = dict(zip([f.name for f in fields(Case)], row))
    values["attachments"] = tuple(json.loads(values["attachments"]))
    return Case(**values)


def _reason(text: str | None, what: str = "reason") -> str:
    text = " ".join((text or "").split())
    if not text:
        raise CaseError(f"a {what} is required")
    if len(text) > MAX_REASON:
        raise CaseError(f"the {what} is {len(text)} characters; at most {MAX_REASON}")
    return text


class CaseBook:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    def _now(self) -> int:
        return int(self._clock() * 1000)

    async def policy(self, guild_id: int) -> Policy:
        row = await self._db.fetchone(
            "SELECT warn_expiry_days, escalate_after, escalate_window_days, "
            "escalate_timeout_minutes, dm_members, appeal_text FROM mod_policy WHERE guild_id = ?",
            (guild_id,))
        if row is None:
            return Policy()
        return Policy(row[0], row[1], row[2], row[3], bool(row[4]), row[5])

    async def set_policy(self, guild_id: int, **changes) -> Policy:
        policy = await self.policy(guild_id)
        for name, value in changes.items():
            if name in Policy.LIMITS:
                low, high = Policy.LIMITS[name]
                if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                    raise CaseError(f"{name}: a whole number from {low} to {high}")
            elif name == "dm_members":
                value = bool(value)
            elif name == "appeal_text":
                value = " ".join(str(value).split())[:500] or None if value is not None else None
            else:
                raise CaseError(f"{name}: no such policy setting")
            policy = replace(policy, **{name: value})
        await self._db.write(
            "INSERT INTO mod_policy VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id) DO UPDATE "
            "SET warn_expiry_days = excluded.warn_expiry_days, escalate_after = excluded.escalate_after, "
            "escalate_window_days = excluded.escalate_window_days, "
            "escalate_timeout_minutes = excluded.escalate_timeout_minutes, "
            "dm_members = excluded.dm_members, appeal_text = excluded.appeal_text, "
            "updated_at = excluded.updated_at",
            (guild_id, policy.warn_expiry_days, policy.escalate_after, policy.escalate_window_days,
             policy.escalate_timeout_minutes, int(policy.dm_members), policy.appeal_text, self._now()))
        return policy

    async def open(self, guild_id: int, action: str, user_id: int, actor_id: int, reason: str, *,
                   rule: str | None = None, evidence: str | None = None,
                   attachments: Sequence[str] = (), channel_id: int | None = None,
                   message_id: int | None = None, duration_s: int | None = None) -> Case:
        if action not in ACTIONS:
            raise CaseError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")
        reason = _reason(reason)
        if duration_s is not None and duration_s <= 0:
            raise CaseError("a duration must be positive")
        now = self._now()
        expires = None
        if action == "warn":
            days = (await self.policy(guild_id)).warn_expiry_days
            expires = now + days * DAY_MS if days else None
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO mod_cases (guild_id, number, action, user_id, actor_id, rule, reason, "
                "evidence, attachments, channel_id, message_id, duration_s, created_at, expires_at) "
                "SELECT ?, COALESCE(MAX(number), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? "
                "FROM mod_cases WHERE guild_id = ?",
                (guild_id, action, user_id, actor_id, rule, reason,
                 (evidence or None) and evidence[:MAX_EVIDENCE],
                 json.dumps([str(a)[:200] for a in attachments][:20]), channel_id, message_id,
                 duration_s, now, expires, guild_id))
            case_id = cursor.lastrowid
        return await self._by_id(case_id)

    async def _by_id(self, case_id: int) -> Case:
        return _case(await self._db.fetchone(f"SELECT {_COLUMNS} FROM mod_cases WHERE id = ?",
                                             (case_id,)))

    async def get(self, guild_id: int, number: int) -> Case | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM mod_cases WHERE guild_id = ? AND number = ?", (guild_id, number))
        return None if row is None else _case(row)

    async def for_member(self, guild_id: int, user_id: int, page: int = 1,
                         per_page: int = 5) -> tuple[list[Case], int]:
        """One page of the member's cases, newest first, and how many there are."""
        total = (await self._db.fetchone(
            "SELECT COUNT(*) FROM mod_cases WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)))[0]
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM mod_cases WHERE guild_id = ? AND user_id = ? "
            "ORDER BY number DESC LIMIT ? OFFSET ?",
            (guild_id, user_id, per_page, (max(1, page) - 1) * per_page))
        return [_case(r) for r in rows], total

    async def active_warnings(self, guild_id: int, user_id: int) -> list[Case]:
        policy, now = await self.policy(guild_id), self._now()
        rows = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM mod_cases WHERE guild_id = ? AND user_id = ? AND action = 'warn' "
            "AND closed_at IS NULL AND (expires_at IS NULL OR expires_at > ?) AND created_at > ? "
            "ORDER BY created_at", (guild_id, user_id, now, now - policy.escalate_window_days * DAY_MS))
        return [_case(r) for r in rows]

    async def escalation(self, guild_id: int, user_id: int) -> Escalation | None:
        """The timeout due now, if the member's active warnings reached the threshold and
        none was given for these warnings yet."""
        policy = await self.policy(guild_id)
        active = await self.active_warnings(guild_id, user_id)
        if not policy.escalate_after or len(active) < policy.escalate_after:
            return None
        since = active[-policy.escalate_after].created_at
        done = await self._db.fetchone(
            "SELECT 1 FROM mod_cases WHERE guild_id = ? AND user_id = ? AND rule = ? "
            "AND created_at >= ?", (guild_id, user_id, ESCALATION, since))
        return None if done else Escalation(policy.escalate_timeout_minutes, len(active))

    async def set_reason(self, guild_id: int, number: int, reason: str) -> Case:
        case = await self._need(guild_id, number)
        await self._db.write("UPDATE mod_cases SET reason = ? WHERE id = ?", (_reason(reason), case.id))
        return await self._by_id(case.id)

    async def add_note(self, guild_id: int, number: int, author_id: int, text: str) -> int:
        case = await self._need(guild_id, number)
        text = _reason(text, "note")
        async with self._db.transaction() as conn:
            await conn.execute("INSERT INTO mod_case_notes (case_id, author_id, text, created_at) "
                               "VALUES (?, ?, ?, ?)", (case.id, author_id, text, self._now()))
            cursor = await conn.execute("SELECT COUNT(*) FROM mod_case_notes WHERE case_id = ?", (case.id,))
            return (await cursor.fetchone())[0]

    async def notes(self, case_id: int) -> list[tuple[int | None, str, int]]:
        rows = await self._db.fetchall("SELECT author_id, text, created_at FROM mod_case_notes "
                                       "WHERE case_id = ? ORDER BY id", (case_id,))
        return [tuple(r) for r in rows]

    async def close(self, guild_id: int, number: int, by: int) -> Case:
        case = await self._need(guild_id, number)
        if case.closed_at is not None:
            raise CaseError(f"case {number} is already closed")
        await self._db.write("UPDATE mod_cases SET closed_at = ?, closed_by = ? WHERE id = ?",
                             (self._now(), by, case.id))
        return await self._by_id(case.id)

    async def _need(self, guild_id: int, number: int) -> Case:
        case = await self.get(guild_id, number)
        if case is None:
            raise CaseError(f"there is no case {number}")
        return case

    # Member data ----------------------------------------------------------------------

    async def export(self, guild_id: int, user_id: int) -> dict:
        about = await self._db.fetchall(
            f"SELECT {_COLUMNS} FROM mod_cases WHERE guild_id = ? AND user_id = ? ORDER BY number",
            (guild_id, user_id))
        notes = await self._db.fetchall(
            "SELECT c.number, n.text, n.created_at FROM mod_case_notes n JOIN mod_cases c "
            "ON c.id = n.case_id WHERE c.guild_id = ? AND n.author_id = ? ORDER BY n.id",
            (guild_id, user_id))
        return {"cases_about_you": [_export(_case(r)) for r in about],
                "case_notes_you_wrote": [{"case": r[0], "text": r[1], "at": r[2]} for r in notes]}

    async def forget(self, guild_id: int, user_id: int) -> int:
        """A deletion request: the cases about the member stay as a safety record without
        their evidence; what they closed or noted as a moderator is unlinked."""
        async with self._db.transaction() as conn:
            changed = 0
            for sql in (
                "UPDATE mod_cases SET evidence = NULL, attachments = '[]' WHERE guild_id = ? "
                "AND user_id = ? AND (evidence IS NOT NULL OR attachments != '[]')",
                "UPDATE mod_cases SET closed_by = NULL WHERE guild_id = ? AND closed_by = ?",
                "UPDATE mod_case_notes SET author_id = NULL WHERE author_id = ?2 AND case_id IN "
                "(SELECT id FROM mod_cases WHERE guild_id = ?1)",
            ):
                cursor = await conn.execute(sql, (guild_id, user_id))
                changed += cursor.rowcount
            return changed


def _export(case: Case) -> dict:
    out = {f.name: getattr(case, f.name) for f in fields(Case) if f.name not in ("id", "guild_id")}
    out["attachments"] = list(case.attachments)
    return out
