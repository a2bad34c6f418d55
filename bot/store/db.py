"""The bot's SQLite database: one writer connection, one reader connection.

Why two connections: aiosqlite runs each connection's statements one at a time on its own
thread. With a single connection a context fetch for a reply would queue behind a large
archive batch; in WAL mode a second, read-only connection reads the last committed state
while the writer works. It also means readers never see another coroutine's uncommitted
rows. Both connections point at a file, so ``:memory:`` databases are not supported.

Transactions are explicit (``isolation_level=None``): Python's implicit BEGIN handling is
bypassed so that ``transaction()`` decides exactly what is atomic.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite

from bot.store.errors import StoreError
from bot.store.migrations import MIGRATIONS_DIR, apply_migrations, rollback

PRAGMAS = (
    "PRAGMA synchronous = NORMAL",  # WAL + NORMAL: durable except for power loss, much faster
    "PRAGMA foreign_keys = ON",
    # The archive's author and channel indexes take random inserts; a 32 MiB page cache
    # (default 2 MiB) keeps their hot pages in memory at millions of messages.
    "PRAGMA cache_size = -32768",
    # Checkpoint every ~40 MiB of WAL instead of ~4 MiB: an index page rewritten by many
    # batches is copied into the database once per checkpoint, not once per 4 MiB.
    # Measured: about +30% archive ingest (bench/store.py).
    "PRAGMA wal_autocheckpoint = 10000",
)


async def _connect(path: Path, *, read_only: bool) -> aiosqlite.Connection:
    conn = await aiosqlite.connect(path, isolation_level=None)
    try:
        # First, so that even switching to WAL waits for another process instead of failing.
        await conn.execute("PRAGMA busy_timeout = 5000")
        if not read_only:
            mode = await _enable_wal(conn)
            if mode != "wal":
                raise StoreError(f"{path}: cannot use WAL journal mode (got {mode!r})")
        for pragma in PRAGMAS:
            await conn.execute(pragma)
        if read_only:
            await conn.execute("PRAGMA query_only = ON")
            conn.row_factory = sqlite3.Row
    except BaseException:
        await conn.close()
        raise
    return conn


async def _enable_wal(conn: aiosqlite.Connection, attempts: int = 50) -> str:
    """Switch to WAL, retrying: when two processes open a new database at once, SQLite can
    answer SQLITE_BUSY at once here (deadlock avoidance) without calling the busy handler."""
    for _ in range(attempts - 1):
        try:
            return list(await conn.execute_fetchall("PRAGMA journal_mode = WAL"))[0][0]
        except sqlite3.OperationalError as e:
            if "locked" not in str(e):
                raise
            await asyncio.sleep(0.1)
    return list(await conn.execute_fetchall("PRAGMA journal_mode = WAL"))[0][0]


class Database:
    """Open with ``await Database.open(path)``; the schema is current once it returns."""

    def __init__(
        self,
        path: Path,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        applied: list[int],
    ) -> None:
        self.path = path
        self.applied = applied  # migration versions this open applied, for the startup log
        self._writer = writer
        self._reader = reader
        self._write_lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path, migrations_dir: Path = MIGRATIONS_DIR) -> Database:
        path = Path(path)
        if path.is_dir():
            raise StoreError(f"cannot open database {path}: it is a directory")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the directory for {path}: {exc}") from exc
        try:
            writer = await _connect(path, read_only=False)
            try:
                applied = await apply_migrations(writer, migrations_dir)
                reader = await _connect(path, read_only=True)
            except BaseException:
                await writer.close()
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {path}: {exc}") from exc
        return cls(path, writer, reader, applied)

    async def close(self) -> None:
        async with self._write_lock:
            await self._reader.close()
            await self._writer.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Yield the writer inside ``BEGIN IMMEDIATE``; commit on success, else roll back.

        The lock keeps other coroutines' statements out of this transaction, since they
        would otherwise share the one writer connection. IMMEDIATE takes SQLite's write
        lock up front, so another process makes us wait (busy_timeout) at BEGIN rather
        than fail with SQLITE_BUSY half-way through.
        """
        async with self._write_lock:
            try:
                await self._writer.execute("BEGIN IMMEDIATE")
                yield self._writer
                await self._writer.execute("COMMIT")
            except BaseException:
                await rollback(self._writer)
                raise

    async def write(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement in its own (autocommit) transaction; return rows changed."""
        async with self._write_lock:
            async with self._writer.execute(sql, params) as cursor:
                return cursor.rowcount

    async def write_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Run one statement per row, all in one transaction; return rows changed."""
        async with self.transaction() as conn:
            async with conn.executemany(sql, rows) as cursor:
                return cursor.rowcount

    async def unlink(self, table: str, columns: Sequence[str], guild_id: int, user_id: int) -> int:
        """A deletion request, for rows that name a member only as who did something (who
        drafted, decided, changed): those columns set to NULL in the guild's rows, in one
        transaction; how many were changed. ``table`` and ``columns`` come from code."""
        async with self.transaction() as conn:
            changed = 0
            for column in columns:
                cursor = await conn.execute(
                    f"UPDATE {table} SET {column} = NULL WHERE guild_id = ? AND {column} = ?",
                    (guild_id, user_id))
                changed += cursor.rowcount
            return changed

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Read committed data on the reader connection."""
        return list(await self._reader.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None


async def migrate(path: str | Path, migrations_dir: Path = MIGRATIONS_DIR) -> list[int]:
    """Apply pending migrations and return their versions (``python -m bot migrate``)."""
    db = await Database.open(path, migrations_dir)
    await db.close()
    return db.applied
