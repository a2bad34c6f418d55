"""Storage for the bot: SQLite through aiosqlite, schema in ``migrations/`` at the repo root."""

from bot.store.archive import Archive, ArchivedMessage, ArchiveWriter
from bot.store.backup import backup
from bot.store.db import Database, migrate
from bot.store.errors import StoreError
from bot.store.keys import DM_GUILD, guild_key

__all__ = [
    "DM_GUILD",
    "Archive",
    "ArchiveWriter",
    "ArchivedMessage",
    "Database",
    "StoreError",
    "backup",
    "guild_key",
    "migrate",
]
