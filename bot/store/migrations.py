"""Schema migrations: numbered SQL files applied one transaction each.

Why not ``executescript``: Python's sqlite3 commits any open transaction before running a
script, so a failure half-way would leave a half-migrated database. Instead each file is
split into statements and run between ``BEGIN IMMEDIATE`` and ``COMMIT`` together with the
version bookkeeping; any error rolls the whole file back and the previous version stays.

Foreign-key enforcement is switched off while a migration runs (SQLite ignores that pragma
inside a transaction, so it happens just before ``BEGIN``) and ``foreign_key_check`` runs
before ``COMMIT``. This is SQLite's documented procedure for table rebuilds: with enforcement
on, dropping an old parent table would cascade-delete its children's rows. The price is
that ``ON DELETE CASCADE`` does not fire for deletes a migration performs itself.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

import aiosqlite

from bot.store.errors import StoreError

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "END", "ROLLBACK"}

_HISTORY_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at INTEGER NOT NULL
) STRICT
"""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def discover(directory: Path) -> list[Migration]:
    """Read the migration files, refusing gaps or duplicates that would skip a step."""
    if not directory.is_dir():
        raise StoreError(f"migrations directory not found: {directory}")
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise StoreError(f"{path}: migration files must be named NNNN_name.sql")
        migrations.append(Migration(int(match[1]), match[2], path))
    if not migrations:
        raise StoreError(f"no migrations found in {directory}")
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise StoreError(
            f"migrations in {directory} must be numbered 1..{len(versions)} without gaps; "
            f"found {versions}"
        )
    return migrations


def split_statements(script: str) -> list[str]:
    """Split SQL text into statements, keeping trigger bodies and quoted ';' intact.

    ``sqlite3.complete_statement`` uses SQLite's own tokenizer, so a ';' inside a string,
    a comment or a ``CREATE TRIGGER ... END`` block does not end a statement.
    """
    statements: list[str] = []
    current = ""
    *pieces, tail = script.split(";")
    for piece in pieces:
        current += piece + ";"
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    current += tail
    if current.strip():
        statements.append(current.strip())
    return statements


async def user_version(conn: aiosqlite.Connection) -> int:
    rows = await conn.execute_fetchall("PRAGMA user_version")
    return int(list(rows)[0][0])


async def apply_migrations(conn: aiosqlite.Connection, directory: Path) -> list[int]:
    """Bring the database up to the newest migration; return the versions applied.

    The version is re-read inside each write transaction, so two processes starting at
    once cannot apply the same migration twice.
    """
    migrations = discover(directory)
    latest = migrations[-1].version
    applied: list[int] = []
    while True:
        await conn.execute("PRAGMA foreign_keys = OFF")
        try:
            await conn.execute("BEGIN IMMEDIATE")
            try:
                current = await user_version(conn)
                if current > latest:
                    raise StoreError(
                        f"database schema version {current} is newer than this bot "
                        f"(knows up to {latest}); upgrade the bot or restore a backup"
                    )
                if current < latest:
                    await _run(conn, migrations[current])
            except BaseException:
                await rollback(conn)
                raise
            await conn.execute("COMMIT")
        finally:
            await conn.execute("PRAGMA foreign_keys = ON")
        if current == latest:
            return applied
        applied.append(current + 1)


async def _run(conn: aiosqlite.Connection, migration: Migration) -> None:
    """Execute one migration inside the caller's transaction."""
    try:
        script = migration.path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(f"cannot read migration {migration.path}: {exc}") from exc
    for number, statement in enumerate(split_statements(script), start=1):
        if _keyword(statement) in _TRANSACTION_CONTROL:
            raise StoreError(
                f"migration {migration.path.name} statement {number} is "
                f"{_keyword(statement)}; remove transaction control, the runner adds it"
            )
        try:
            await conn.execute(statement)
        except sqlite3.Error as exc:
            raise StoreError(
                f"migration {migration.path.name} failed at statement {number} "
                f"({_first_line(statement)!r}): {exc}; rolled back"
            ) from exc
    violations = await conn.execute_fetchall("PRAGMA foreign_key_check")
    if violations:
        table, rowid, parent, _ = list(violations)[0]
        raise StoreError(
            f"migration {migration.path.name} broke a foreign key: {table} row {rowid} "
            f"points at a missing {parent} row; rolled back"
        )
    await conn.execute(_HISTORY_TABLE)
    await conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
        (migration.version, migration.name, int(time.time() * 1000)),
    )
    await conn.execute(f"PRAGMA user_version = {migration.version}")


async def rollback(conn: aiosqlite.Connection) -> None:
    """Roll back, tolerating a transaction that already ended.

    After a cancelled await the statement may still have run (and even committed) on
    aiosqlite's thread; a failing ROLLBACK must not hide the original exception.
    """
    try:
        await conn.execute("ROLLBACK")
    except sqlite3.OperationalError as exc:
        if "no transaction is active" not in str(exc):
            raise


def _first_line(statement: str) -> str:
    code = [line.strip() for line in statement.splitlines() if line.strip()]
    code = [line for line in code if not line.startswith("--")] or code
    return code[0][:80]


def _keyword(statement: str) -> str:
    return _first_line(statement).split(maxsplit=1)[0].rstrip(";").upper()
