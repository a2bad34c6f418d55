"""Per-guild and per-channel settings in SQLite, with the environment as their defaults.

One source of truth for each setting: the database row when a moderator set one, else
the environment value (``PERSONA``, ``ANSWER_CHANNELS``, ``MODLOG_CHANNEL``). Features
read settings through here, never from ``Settings`` directly, so a value set with
``/settings`` wins everywhere at once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.config import AnswerChannels, ConfigError, Settings, parse_answer_channels
from bot.store import Database

log = logging.getLogger(__name__)


def channel_text(value: int | str | None) -> str:
    """A channel setting as a moderator reads it."""
    if value is None:
        return "not set"
    return f"<#{value}>" if isinstance(value, int) else f"#{value} (from MODLOG_CHANNEL)"


@dataclass(frozen=True)
class Overrides:
    """The database's settings for one channel and its guild; None means "not set"."""

    persona: str | None = None
    channel_answer: bool | None = None
    guild_answer_channels: AnswerChannels | None = None


@dataclass(frozen=True)
class Staff:
    """Who the bot offers when it cannot answer: a role (pinged only when ``ping``) and
    a channel where members get help; either may be unset."""

    role_id: int | None = None
    channel_id: int | None = None
    ping: bool = False


STAFF_COLUMNS = ("staff_role_id", "staff_channel_id", "staff_ping")


class GuildSettings:
    def __init__(self, db: Database, settings: Settings) -> None:
        self._db = db
        self._settings = settings
        self._zones: dict[int, ZoneInfo] = {}

    async def load_timezones(self) -> None:
        """Read every guild's time zone once, at start-up: ``tz`` is then answered without
        the database, as adapters need it before a command's arguments are converted."""
        for guild_id, name in await self._db.fetchall(
                "SELECT guild_id, timezone FROM guild_settings WHERE timezone IS NOT NULL"):
            try:
                self._zones[guild_id] = ZoneInfo(name)
            except (ValueError, KeyError, OSError):
                log.warning("guild %d: ignoring unknown time zone %r", guild_id, name)

    def tz(self, guild_id: int | None) -> ZoneInfo:
        """The guild's time zone, else ``TIMEZONE``."""
        return self._zones.get(guild_id) or ZoneInfo(self._settings.timezone)

    async def set_timezone(self, guild_id: int, name: str | None) -> ZoneInfo:
        """Set (or, with None, clear) the guild's time zone; ValueError for an unknown name."""
        zone = None
        if name is not None:
            try:
                zone = ZoneInfo(name)
            except (ValueError, KeyError, OSError):
                raise ValueError(f"{name!r} is not a time zone; use a name like Europe/Berlin") from None
        await self.set_guild(guild_id, "timezone", name)
        if zone is None:
            self._zones.pop(guild_id, None)
        else:
            self._zones[guild_id] = zone
        return self.tz(guild_id)

    async def overrides(self, guild_id: int | None, channel_id: int) -> Overrides:
        """The channel's and guild's overrides (a channel persona beats the guild's)."""
        if guild_id is None:
            return Overrides()
        row = await self._db.fetchone(
            "SELECT c.persona, c.answer, g.persona, g.answer_channels FROM (SELECT 1) "
            "LEFT JOIN channel_settings c ON c.channel_id = ? "
            "LEFT JOIN guild_settings g ON g.guild_id = ?",
            (channel_id, guild_id),
        )
        channel_persona, channel_answer, guild_persona, guild_channels = row
        answer_channels = None
        if guild_channels and guild_channels.strip():
            try:
                answer_channels = parse_answer_channels(guild_channels, "guild_settings.answer_channels")
            except ConfigError as exc:
                log.warning("guild %d: ignoring bad setting: %s", guild_id, exc)
        return Overrides(
            persona=channel_persona or guild_persona or None,
            channel_answer=None if channel_answer is None else bool(channel_answer),
            guild_answer_channels=answer_channels,
        )

    async def persona(self, guild_id: int | None, channel_id: int) -> str:
        return (await self.overrides(guild_id, channel_id)).persona or self._settings.persona

    async def modlog_channel(self, guild_id: int) -> int | str | None:
        """The guild's mod-log channel id, else ``MODLOG_CHANNEL`` (an id or a name)."""
        row = await self._db.fetchone(
            "SELECT modlog_channel_id FROM guild_settings WHERE guild_id = ?", (guild_id,))
        if row is not None and row[0] is not None:
            return row[0]
        return self._settings.modlog_default

    async def staff(self, guild_id: int | None) -> Staff:
        if guild_id is None:
            return Staff()
        row = await self._db.fetchone(
            "SELECT staff_role_id, staff_channel_id, staff_ping FROM guild_settings "
            "WHERE guild_id = ?", (guild_id,))
        return Staff() if row is None else Staff(row[0], row[1], bool(row[2]))

    async def set_guild(self, guild_id: int, column: str, value: object) -> None:
        """Set one guild column (``persona``, ``answer_channels``, ``modlog_channel_id``,
        ``timezone`` (through ``set_timezone``),
        the ``staff_*`` columns); None clears it back to the default."""
        if column not in ("persona", "answer_channels", "modlog_channel_id", "timezone", *STAFF_COLUMNS):
            raise ValueError(f"no guild setting {column!r}")
        await write_guild_column(self._db, guild_id, column, value)

    async def set_channel_answer(self, guild_id: int, channel_id: int, answer: bool | None) -> None:
        """Answer every message in the channel (True), only when addressed (False), or
        follow the guild's rule (None)."""
        await self._db.write(
            "INSERT INTO channel_settings (channel_id, guild_id, answer, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (channel_id) DO UPDATE SET answer = excluded.answer, "
            "updated_at = excluded.updated_at",
            (channel_id, guild_id, None if answer is None else int(answer), _now()),
        )


async def write_guild_column(db: Database, guild_id: int, column: str, value: object) -> None:
    """Upsert one ``guild_settings`` column; the caller has checked ``column`` against its
    own list (it goes into the SQL)."""
    await db.write(
        f"INSERT INTO guild_settings (guild_id, {column}, updated_at) VALUES (?, ?, ?) "
        f"ON CONFLICT (guild_id) DO UPDATE SET {column} = excluded.{column}, "
        "updated_at = excluded.updated_at",
        (guild_id, value, _now()),
    )


def _now() -> int:
    return int(time.time() * 1000)
