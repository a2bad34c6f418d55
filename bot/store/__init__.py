"""Storage for the bot: SQLite through aiosqlite, schema in ``migrations/`` at the repo root."""

from bot.store.archive import Archive, ArchivedMessage, ArchiveWriter
from bot.store.backup import backup
from bot.store.db import Database, migrate
from bot.store.errors import StoreError

__all__ = [
    "Archive",
    "ArchiveWriter",
    "ArchivedMessage",
    "Database",
    "StoreError",
    "backup",
    "migrate",
]
