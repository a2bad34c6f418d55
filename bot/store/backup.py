"""Online backup (``python -m bot backup PATH``) that is safe while the bot is running.

Copying the file with ``cp`` is not: in WAL mode recent commits live in ``-wal`` and a copy
taken mid-checkpoint is torn. SQLite's backup API copies a consistent snapshot instead.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import aiosqlite

from bot.store.errors import StoreError


async def backup(db_path: str | Path, dest_path: str | Path) -> None:
    """Write a consistent, self-contained copy of ``db_path`` to ``dest_path``.

    The copy is made in one step (``pages=-1``): a step-wise backup restarts whenever
    another connection writes, so a busy bot could keep it from ever finishing, while a
    single step only holds a WAL read snapshot, which never blocks the writer.
    The copy goes to a temporary name, is checked, switched to rollback-journal mode (one
    file, safe to move around) and only then renamed over ``dest_path``, so an interrupted
    backup never leaves a half-written file where a good backup is expected.
    """
    source_path, dest = Path(db_path), Path(dest_path)
    if not source_path.is_file():
        raise StoreError(f"no database at {source_path}")
    if dest.exists() and dest.resolve() == source_path.resolve():
        raise StoreError(f"backup destination {dest} is the database itself")
    partial = dest.with_name(f".{dest.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        async with aiosqlite.connect(source_path) as source:
            await source.execute("PRAGMA busy_timeout = 5000")
            async with aiosqlite.connect(partial) as target:
                await source.backup(target, pages=-1)
                await target.execute("PRAGMA journal_mode = DELETE")
                result = list(await target.execute_fetchall("PRAGMA quick_check"))
        if result != [("ok",)]:
            raise StoreError(f"backup of {source_path} failed its check: {result[0][0]}")
        os.replace(partial, dest)
    except (sqlite3.Error, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise StoreError(f"backup of {source_path} to {dest} failed: {exc}") from exc
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
