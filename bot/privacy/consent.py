"""Consent: whether a member's messages may be stored, and used for training.

Each guild chooses, for archiving (context for answers, insights) and for training
(the corpus export), one of three modes; each member may opt out or in:

| mode    | archived                            | used for training                  |
| ---     | ---                                 | ---                                |
| on      | unless the member opted out         | unless the member opted out        |
| opt-in  | only members who opted in           | only members who opted in to it    |
| off     | nobody                              | nobody                             |

The defaults: archiving **on** (the bot answers in context and moderators get insights;
members are told the first time and can opt out), training **opt-in** (a member's words
go into a model only if they said yes). An opted-out member's row here stays after their
data is erased: it is the record of the request, and without it the next message would be
stored again.

Reads are cached per process: the pipeline asks for every message, and only the privacy
commands change consent (through ``set_*``, which update the cache). A second process on
the same database sees another's change only after a restart.
"""

from __future__ import annotations

import time

from bot.core.guilds import write_guild_column
from bot.store import DM_GUILD, Database

MODES = ("on", "opt-in", "off")
DEFAULT_ARCHIVE, DEFAULT_TRAINING = "on", "opt-in"


def _now() -> int:
    return int(time.time() * 1000)


class Consent:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._guilds: dict[int, tuple[str, str, int | None]] = {}
        self._members: dict[tuple[int, int], tuple[str | None, str | None, int | None]] = {}

    async def guild(self, guild_id: int) -> tuple[str, str, int | None]:
        """(archive mode, training mode, retention days or None)."""
        if guild_id not in self._guilds:
            row = await self._db.fetchone(
                "SELECT archive_consent, training_consent, retention_days FROM guild_settings "
                "WHERE guild_id = ?", (guild_id,))
            self._guilds[guild_id] = (
                (row and row[0]) or DEFAULT_ARCHIVE, (row and row[1]) or DEFAULT_TRAINING,
                row[2] if row else None)
        return self._guilds[guild_id]

    async def member(self, guild_id: int, user_id: int) -> tuple[str | None, str | None, int | None]:
        """(storage choice, training choice, when told): "in", "out" or None each."""
        key = (guild_id, user_id)
        if key not in self._members:
            row = await self._db.fetchone(
                "SELECT storage, training, notified_at FROM member_consent "
                "WHERE guild_id = ? AND user_id = ?", key)
            self._members[key] = (row[0], row[1], row[2]) if row else (None, None, None)
        return self._members[key]

    async def may_store(self, guild_id: int, user_id: int) -> bool:
        """Whether this member's messages may be archived here. Direct messages follow
        the member's own choice, with archiving on by default."""
        mode = DEFAULT_ARCHIVE if guild_id == DM_GUILD else (await self.guild(guild_id))[0]
        choice = (await self.member(guild_id, user_id))[0]
        return mode != "off" and choice != "out" and (mode == "on" or choice == "in")

    async def may_train(self, guild_id: int, user_id: int) -> bool:
        mode = (await self.guild(guild_id))[1]
        storage, training, _ = await self.member(guild_id, user_id)
        if mode == "off" or storage == "out" or training == "out":
            return False
        return mode == "on" or training == "in"

    async def set_member(self, guild_id: int, user_id: int, *, storage: str | None = None,
                         training: str | None = None) -> None:
        """Record a member's choice ("in" or "out"); None leaves that part as it was."""
        await self._db.write(
            "INSERT INTO member_consent (guild_id, user_id, storage, training, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id, user_id) DO UPDATE SET "
            "storage = COALESCE(excluded.storage, storage), "
            "training = COALESCE(excluded.training, training), updated_at = excluded.updated_at",
            (guild_id, user_id, storage, training, _now()))
        self._members.pop((guild_id, user_id), None)

    async def mark_notified(self, guild_id: int, user_id: int) -> bool:
        """True once per member and guild: the caller tells them what is kept."""
        if (await self.member(guild_id, user_id))[2] is not None:
            return False
        now = _now()
        changed = await self._db.write(
            "INSERT INTO member_consent (guild_id, user_id, notified_at, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (guild_id, user_id) DO UPDATE SET "
            "notified_at = excluded.notified_at WHERE notified_at IS NULL", (guild_id, user_id, now, now))
        self._members.pop((guild_id, user_id), None)
        return bool(changed)

    async def set_guild(self, guild_id: int, column: str, value: str | int | None) -> None:
        """``archive_consent`` or ``training_consent`` (a mode), or ``retention_days``."""
        if column not in ("archive_consent", "training_consent", "retention_days"):
            raise ValueError(f"no consent setting {column!r}")
        if column != "retention_days" and value is not None and value not in MODES:
            raise ValueError(f"{value!r}: one of {', '.join(MODES)}")
        await write_guild_column(self._db, guild_id, column, value)
        self._guilds.pop(guild_id, None)

    async def export(self, guild_id: int, user_id: int) -> dict:
        storage, training, notified = await self.member(guild_id, user_id)
        return {"storage": storage, "training": training, "told_at": notified}

    async def forget(self, guild_id: int, user_id: int) -> int:
        """A deletion request: the row goes unless it records an opt-out, which must stay
        (it is what keeps their messages from being stored again)."""
        changed = await self._db.write(
            "DELETE FROM member_consent WHERE guild_id = ? AND user_id = ? "
            "AND COALESCE(storage, '') <> 'out'", (guild_id, user_id))
        self._members.pop((guild_id, user_id), None)
        return changed
