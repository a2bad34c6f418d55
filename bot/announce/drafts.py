"""Announcement drafts: the model writes, a moderator approves (``announcement_drafts``).

The one product rule holds for drafts too: a draft may state only facts the moderator's
brief gives. The model's text passes the grounding fact check against the brief (a price,
a date's number, a percentage, a link or a duration the brief does not have is refused)
and the output guards; a refused draft is written once more, told why, and after that the
brief itself, tidied, is the draft, so what a moderator approves never holds an invented
fact. Approving, regenerating and discarding are compare-and-set on ``status``: two
moderators pressing at once cannot both decide one draft.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, fields

from bot.core.pipeline import OutputCheck, Pipeline
from bot.grounding.describe import tidy
from bot.grounding.facts import Source, unsupported
from bot.model import Busy, ChatModel, ChatRequest
from bot.store import Database

log = logging.getLogger(__name__)

KINDS = ("sale", "new-product", "event", "maintenance", "discussion", "other")
TONES = ("friendly", "excited", "calm", "formal")
DRAFT, APPROVED, DISCARDED = "draft", "approved", "discarded"
DRAFT_TOKENS, DRAFT_TIMEOUT_S = 200, 120.0
SYSTEM = ("You write announcements for a shop's Discord community. Write one announcement "
          "of two to four short sentences, in a {tone} tone, about a {kind}. Use only the "
          "facts in the brief: add no price, date, number, link or promise of your own. No "
          "hashtags, no @mentions.")


class DraftError(ValueError):
    """A draft that cannot be changed as asked; the message says why."""


@dataclass(frozen=True)
class Draft:
    id: int
    guild_id: int
    channel_id: int
    brief: str
    kind: str
    tone: str
    text: str
    ping_role_id: int | None
    post_at: int | None
    recurrence: str | None
    until_at: int | None
    status: str
    post_id: int | None
    author_id: int | None
    decided_by: int | None


_NAMES = [f.name for f in fields(Draft)]
_COLUMNS = ", ".join(_NAMES)


class Writer:
    """Writes a draft from a brief with the model, checked as the module docstring says."""

    def __init__(self, model: ChatModel, pipeline: Pipeline) -> None:
        self._model = model
        self._pipeline = pipeline

    async def write(self, brief: str, kind: str, tone: str, guild: int, channel: int) -> tuple[str, str]:
        """(text, why the model's text was not used: "" when it was). Raises ``Busy``."""
        note, why = "", ""
        for _ in range(2):
            messages = [("system", SYSTEM.format(tone=tone, kind=kind.replace("-", " "))),
                        ("user", f"Brief: {brief}" + (f"\n\n{note}" if note else ""))]
            try:
                text = tidy(await self._model.complete(ChatRequest(
                    messages, max_new_tokens=DRAFT_TOKENS, temperature=0.8,
                    deadline=time.monotonic() + DRAFT_TIMEOUT_S)))
            except Busy:
                raise
            except Exception:
                log.exception("an announcement draft failed")
                why = "the model failed"
                break
            why = await self.refusal(text, brief, guild, channel)
            if not why:
                return text, ""
            note = "Your last draft stated facts the brief does not give; use only the brief's."
        return tidy(brief), why

    async def refusal(self, text: str, brief: str, guild: int, channel: int) -> str:
        """Why ``text`` may not be a draft of ``brief`` ("" when it may)."""
        if not text.strip():
            return "it was empty"
        problems = unsupported(text, [Source(brief)])
        if problems:
            return "it stated " + ", ".join(map(str, problems[:3])) + ", not in the brief"
        reason = await self._pipeline.check_output(OutputCheck(text, guild, channel, "draft"))
        return f"an output check refused it ({reason})" if reason else ""


class DraftStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, guild_id: int, channel_id: int, brief: str, kind: str, tone: str,
                  text: str, *, author_id: int, now: int, ping_role_id: int | None = None,
                  post_at: int | None = None, recurrence: str | None = None,
                  until_at: int | None = None) -> Draft:
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO announcement_drafts (guild_id, channel_id, brief, kind, tone, text, "
                "ping_role_id, post_at, recurrence, until_at, author_id, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (guild_id, channel_id, brief, kind, tone, text, ping_role_id, post_at,
                 recurrence, until_at, author_id, now, now))
            draft_id = cursor.lastrowid
        return await self.get(guild_id, draft_id)

    async def get(self, guild_id: int, draft_id: int) -> Draft | None:
        row = await self._db.fetchone(
            f"SELECT {_COLUMNS} FROM announcement_drafts WHERE id = ? AND guild_id = ?",
            (draft_id, guild_id))
        return None if row is None else Draft(**dict(zip(_NAMES, row)))

    async def set_text(self, draft: Draft, text: str, now: int) -> Draft:
        if not 0 < len(text.strip()) <= 2000:
            raise DraftError("an announcement needs 1 to 2000 characters")
        if not await self._db.write(
                "UPDATE announcement_drafts SET text = ?, updated_at = ? WHERE id = ? AND status = ?",
                (text.strip(), now, draft.id, DRAFT)):
            raise DraftError(f"draft {draft.id} was already decided")
        return await self.get(draft.guild_id, draft.id)

    async def decide(self, draft: Draft, status: str, by: int, now: int,
                     post_id: int | None = None) -> bool:
        """Approve or discard; False when someone decided it first."""
        return bool(await self._db.write(
            "UPDATE announcement_drafts SET status = ?, decided_by = ?, post_id = ?, updated_at = ? "
            "WHERE id = ? AND status = ?", (status, by, post_id, now, draft.id, DRAFT)))

    async def export(self, guild_id: int, user_id: int) -> list[dict]:
        rows = await self._db.fetchall(
            "SELECT id, brief, text, status, created_at FROM announcement_drafts "
            "WHERE guild_id = ? AND (author_id = ? OR decided_by = ?) ORDER BY id",
            (guild_id, user_id, user_id))
        return [dict(zip(("draft", "brief", "text", "status", "at"), r)) for r in rows]

    async def unlink(self, guild_id: int, user_id: int) -> int:
        """A deletion request: the drafts stay (they are the shop's text), without the
        member's name on them."""
        return await self._db.unlink("announcement_drafts", ("author_id", "decided_by"),
                                     guild_id, user_id)
