"""Event plans: the model proposes an event for a moderator's theme, goal and date window
(``event_plans``, migration 0010), and approving one creates the guild scheduled event and
its reminder posts.

The proposal has four parts, asked for as labelled lines (``Title:``, ``Description:``,
``Agenda:``, ``Ideas:``) and read back by ``parse``. As with announcements, it may state
only what the moderator gave (the theme, the goal, the date window): the fact check runs
against them, a refused proposal is written once more, and then the plan falls back to
the moderator's own words (the theme as the title, the goal as the description).
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, fields

from bot.core.pipeline import OutputCheck, Pipeline
from bot.core.text import sanitize
from bot.grounding.facts import Source, unsupported
from bot.model import Busy, ChatModel, ChatRequest
from bot.store import Database

log = logging.getLogger(__name__)

REMINDERS_H = (24, 1)  # hours before the start
TITLE_CHARS, DESCRIPTION_CHARS = 100, 1000  # Discord's limits for a scheduled event
PLAN_TOKENS, PLAN_TIMEOUT_S = 320, 150.0
SYSTEM = ("You plan events for a shop's Discord community. Propose one event. Answer with "
          "exactly these four labelled parts:\nTitle: a short name\nDescription: two "
          "sentences\nAgenda:\n- two to four agenda items\nIdeas:\n- two or three ways to get "
          "members involved\nUse only the facts given: add no price, date, time, number or "
          "prize of your own.")
_LABEL = re.compile(r"^\s*\**(title|description|agenda|ideas|engagement ideas)\**\s*:\s*(.*)$",
                    re.IGNORECASE)


@dataclass(frozen=True)
class Proposal:
    title: str
    description: str
    agenda: str = ""
    ideas: str = ""

    @property
    def text(self) -> str:
        """All of it, as the fact check and the output guards read it."""
        return "\n".join(p for p in (self.title, self.description, self.agenda, self.ideas) if p)

    def event_description(self) -> str:
        """The scheduled event's description: the description and the agenda, cut to fit."""
        body = self.description + (f"\n\nAgenda:\n{self.agenda}" if self.agenda else "")
        return body if len(body) <= DESCRIPTION_CHARS else body[: DESCRIPTION_CHARS - 1] + "…"


def parse(text: str) -> Proposal | None:
    """The four parts of a model's answer, or None without a title and a description."""
    parts: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        match = _LABEL.match(line)
        if match:
            current = match[1].lower().split()[-1]  # "engagement ideas" -> "ideas"
            parts[current] = [match[2].strip()] if match[2].strip() else []
        elif current and line.strip():
            parts[current].append(line.strip())
    title = " ".join(parts.get("title", [])).strip(" *\"'")
    description = " ".join(parts.get("description", []))
    if not title or not description:
        return None
    bullets = lambda key: "\n".join(f"- {b.lstrip('-*• ').strip()}" for b in parts.get(key, [])
                                    if b.lstrip("-*• ").strip())
    return Proposal(sanitize(title)[:TITLE_CHARS], sanitize(description)[:DESCRIPTION_CHARS],
                    sanitize(bullets("agenda")), sanitize(bullets("ideas")))


class Planner:
    def __init__(self, model: ChatModel, pipeline: Pipeline) -> None:
        self._model = model
        self._pipeline = pipeline

    async def propose(self, brief: str, theme: str, goal: str, guild: int,
                      channel: int) -> tuple[Proposal, str]:
        """(proposal, why the model's was not used: "" when it was). Raises ``Busy``.
        ``brief`` states the theme, goal and window as the moderator gave them."""
        note, why = "", ""
        for _ in range(2):
            messages = [("system", SYSTEM), ("user", brief + (f"\n\n{note}" if note else ""))]
            try:
                answer = await self._model.complete(ChatRequest(
                    messages, max_new_tokens=PLAN_TOKENS, temperature=0.8,
                    deadline=time.monotonic() + PLAN_TIMEOUT_S))
            except Busy:
                raise
            except Exception:
                log.exception("an event plan failed")
                why = "the model failed"
                break
            proposal = parse(answer)
            if proposal is None:
                why, note = "it did not have a title and a description", "Use the four labels."
                continue
            problems = unsupported(proposal.text, [Source(brief)])
            reason = await self._pipeline.check_output(OutputCheck(proposal.text, guild, channel, "draft"))
            if not problems and not reason:
                return proposal, ""
            why = ("it stated " + ", ".join(map(str, problems[:3])) + ", not in your request"
                   if problems else f"an output check refused it ({reason})")
            note = "Your last plan stated facts that were not given; use only the given ones."
        return Proposal(sanitize(theme)[:TITLE_CHARS], sanitize(goal)[:DESCRIPTION_CHARS]), why


@dataclass(frozen=True)
class Plan:
    id: int
    guild_id: int
    theme: str
    goal: str
    starts_at: int
    ends_at: int
    location: str | None
    voice_channel_id: int | None
    announce_channel_id: int
    title: str
    description: str
    agenda: str
    ideas: str
    status: str
    event_id: int | None
    author_id: int | None
    decided_by: int | None

    @property
    def proposal(self) -> Proposal:
        return Proposal(self.title, self.description, self.agenda, self.ideas)


_NAMES = [f.name for f in fields(Plan)]


class PlanStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, guild_id: int, theme: str, goal: str, starts_at: int, ends_at: int,
                  proposal: Proposal, *, announce_channel_id: int, author_id: int, now: int,
                  location: str | None = None, voice_channel_id: int | None = None) -> Plan:
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO event_plans (guild_id, theme, goal, starts_at, ends_at, location, "
                "voice_channel_id, announce_channel_id, title, description, agenda, ideas, "
                "author_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (guild_id, theme, goal, starts_at, ends_at, location, voice_channel_id,
                 announce_channel_id, proposal.title, proposal.description, proposal.agenda,
                 proposal.ideas, author_id, now, now))
            plan_id = cursor.lastrowid
        return await self.get(guild_id, plan_id)

    async def get(self, guild_id: int, plan_id: int) -> Plan | None:
        row = await self._db.fetchone(
            f"SELECT {', '.join(_NAMES)} FROM event_plans WHERE id = ? AND guild_id = ?",
            (plan_id, guild_id))
        return None if row is None else Plan(**dict(zip(_NAMES, row)))

    async def by_event(self, guild_id: int, event_id: int) -> Plan | None:
        row = await self._db.fetchone("SELECT id FROM event_plans WHERE guild_id = ? AND event_id = ?",
                                      (guild_id, event_id))
        return None if row is None else await self.get(guild_id, row[0])

    async def update(self, plan: Plan, now: int, *, expect: str = "draft", **changes) -> bool:
        """Change columns of a plan still in state ``expect`` (compare-and-set)."""
        sets = ", ".join(f"{k} = ?" for k in changes)
        return bool(await self._db.write(
            f"UPDATE event_plans SET {sets}, updated_at = ? WHERE id = ? AND status = ?",
            (*changes.values(), now, plan.id, expect)))

    async def export(self, guild_id: int, user_id: int) -> list[dict]:
        rows = await self._db.fetchall(
            "SELECT id, theme, title, status, created_at FROM event_plans WHERE guild_id = ? "
            "AND (author_id = ? OR decided_by = ?) ORDER BY id", (guild_id, user_id, user_id))
        return [dict(zip(("plan", "theme", "title", "status", "at"), r)) for r in rows]

    async def unlink(self, guild_id: int, user_id: int) -> int:
        return await self._db.unlink("event_plans", ("author_id", "decided_by"), guild_id, user_id)
