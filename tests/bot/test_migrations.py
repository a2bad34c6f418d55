"""Migrations: from empty, from every earlier version, atomic failures, and refusing the future."""

import asyncio
import shutil
import sqlite3

import pytest

from bot.store import Database, StoreError, migrate
from bot.store.migrations import MIGRATIONS_DIR, discover, split_statements

LATEST = discover(MIGRATIONS_DIR)[-1].version

# Rows written at version N with the tables of version N, and a query that must still find
# them after upgrading to the latest version. A new migration needs an entry here: that is
# what proves upgrading a live database keeps its data.
SAMPLES = {
    1: (
        [
            "INSERT INTO members VALUES (1, 42, 'Ana', 1000, 2000, 0)",
            "INSERT INTO products (id, guild_id, sku, name, created_at, updated_at) "
            "VALUES (7, 1, 'SOCK-1', 'Wool socks', 1000, 1000)",
            "INSERT INTO member_facts (guild_id, user_id, kind, value, created_at, updated_at) "
            "VALUES (1, 42, 'size', 'M', 1000, 1000)",
            "INSERT INTO messages (message_id, guild_id, channel_id, author_id, content, created_at) "
            "VALUES (900, 1, 5, 42, 'do you ship to Norway?', 1500)",
            "INSERT INTO drafts (id, guild_id, author_id, kind, title, body, created_at, updated_at) "
            "VALUES (3, 1, 9, 'announcement', 'Sale', 'Socks 20% off', 1000, 1000)",
            "INSERT INTO schedules (draft_id, channel_id, run_at, created_at, updated_at) "
            "VALUES (3, 5, 5000, 1000, 1000)",
        ],
        [
            ("SELECT display_name FROM members WHERE user_id = 42", ("Ana",)),
            ("SELECT value FROM member_facts WHERE user_id = 42", ("M",)),
            ("SELECT content FROM messages WHERE message_id = 900", ("do you ship to Norway?",)),
            ("SELECT rowid FROM products_fts WHERE products_fts MATCH 'wool'", (7,)),
            ("SELECT state FROM schedules WHERE draft_id = 3", ("pending",)),
        ],
    ),
}


def copy_migrations(tmp_path, upto):
    directory = tmp_path / f"migrations_{upto}"
    directory.mkdir()
    for migration in discover(MIGRATIONS_DIR)[:upto]:
        shutil.copy(migration.path, directory)
    return directory


def schema_state(path):
    with sqlite3.connect(path) as conn:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        history = []
        if "schema_migrations" in tables:
            history = [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
    conn.close()
    return version, tables, history


def test_every_migration_has_upgrade_samples():
    assert sorted(SAMPLES) == list(range(1, LATEST + 1))


async def test_fresh_database_is_at_latest_version(tmp_path):
    path = tmp_path / "nested" / "dir" / "bot.db"
    db = await Database.open(path)
    try:
        assert db.applied == list(range(1, LATEST + 1))
        assert (await db.fetchone("PRAGMA journal_mode"))[0] == "wal"
        assert (await db.fetchone("PRAGMA busy_timeout"))[0] == 5000
        async with db.transaction() as conn:
            assert list(await conn.execute_fetchall("PRAGMA foreign_keys")) == [(1,)]
            assert list(await conn.execute_fetchall("PRAGMA synchronous")) == [(1,)]  # NORMAL
    finally:
        await db.close()
    version, _, history = schema_state(path)
    assert version == LATEST and history == list(range(1, LATEST + 1))
    assert await migrate(path) == []  # nothing left to do


@pytest.mark.parametrize("start", range(1, LATEST + 1))
async def test_upgrade_from_each_version_keeps_data(tmp_path, start):
    path = tmp_path / "bot.db"
    assert await migrate(path, copy_migrations(tmp_path, start)) == list(range(1, start + 1))
    with sqlite3.connect(path) as conn:
        for version in range(1, start + 1):
            for statement in SAMPLES[version][0]:
                conn.execute(statement)
    conn.close()

    assert await migrate(path) == list(range(start + 1, LATEST + 1))

    db = await Database.open(path)
    try:
        for version in range(1, start + 1):
            for query, expected in SAMPLES[version][1]:
                assert tuple(await db.fetchone(query)) == expected, query
    finally:
        await db.close()


async def test_newer_database_is_refused(tmp_path):
    path = tmp_path / "bot.db"
    await migrate(path)
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST + 3}")
    conn.close()
    with pytest.raises(StoreError) as error:
        await Database.open(path)
    assert str(error.value) == (
        f"database schema version {LATEST + 3} is newer than this bot (knows up to {LATEST}); "
        "upgrade the bot or restore a backup"
    )


async def test_failing_migration_rolls_back_completely(tmp_path):
    directory = copy_migrations(tmp_path, LATEST)
    broken = directory / f"{LATEST + 1:04d}_broken.sql"
    broken.write_text(
        "CREATE TABLE wishlist (id INTEGER PRIMARY KEY);\n"
        "INSERT INTO members VALUES (1, 2, 'x', 1, 1, 0);\n"
        "ALTER TABLE members ADD COLUMN nickname TEXT;\n"
        "INSERT INTO no_such_table VALUES (1);\n"
    )
    path = tmp_path / "bot.db"
    await migrate(path)
    with pytest.raises(StoreError, match=rf"{broken.name} failed at statement 4 .*no such table"):
        await migrate(path, directory)

    version, tables, history = schema_state(path)
    assert version == LATEST and history == list(range(1, LATEST + 1))
    assert "wishlist" not in tables
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM members").fetchone() == (0,)
        columns = [row[1] for row in conn.execute("PRAGMA table_info(members)")]
    conn.close()
    assert "nickname" not in columns

    broken.write_text("CREATE TABLE wishlist (id INTEGER PRIMARY KEY);\n")
    assert await migrate(path, directory) == [LATEST + 1]


async def test_migration_breaking_a_foreign_key_rolls_back(tmp_path):
    directory = copy_migrations(tmp_path, LATEST)
    (directory / f"{LATEST + 1:04d}_orphan.sql").write_text(
        "INSERT INTO schedules (draft_id, channel_id, run_at, created_at, updated_at) "
        "VALUES (404, 1, 1, 1, 1);"
    )
    path = tmp_path / "bot.db"
    with pytest.raises(StoreError, match="broke a foreign key: schedules row 1"):
        await migrate(path, directory)
    assert schema_state(path)[0] == LATEST


async def test_migration_may_not_manage_its_own_transaction(tmp_path):
    directory = copy_migrations(tmp_path, LATEST)
    (directory / f"{LATEST + 1:04d}_commits.sql").write_text(
        "CREATE TABLE a (x INTEGER);\nCOMMIT;\nCREATE TABLE b (x INTEGER);\n"
    )
    path = tmp_path / "bot.db"
    with pytest.raises(StoreError, match="statement 2 is COMMIT"):
        await migrate(path, directory)
    version, tables, _ = schema_state(path)
    assert version == LATEST and "a" not in tables


async def test_concurrent_starts_apply_each_migration_once(tmp_path):
    path = tmp_path / "bot.db"
    first, second = await asyncio.gather(migrate(path), migrate(path))
    assert sorted(first + second) == list(range(1, LATEST + 1))
    assert schema_state(path)[2] == list(range(1, LATEST + 1))


@pytest.mark.parametrize(
    ("names", "message"),
    [
        ([], "no migrations found"),
        (["0001_a.sql", "0003_c.sql"], r"numbered 1\.\.2 without gaps; found \[1, 3\]"),
        (["0001_a.sql", "0001_b.sql"], "without gaps"),
        (["1_a.sql"], "must be named NNNN_name.sql"),
    ],
)
def test_migration_files_must_be_numbered_in_sequence(tmp_path, names, message):
    for name in names:
        (tmp_path / name).write_text("SELECT 1;")
    with pytest.raises(StoreError, match=message):
        discover(tmp_path)


def test_split_statements_respects_sqlite_syntax():
    script = """
        -- a comment; with a semicolon
        CREATE TABLE t (a TEXT DEFAULT 'x;y');
        CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN
            INSERT INTO t VALUES ('nested;');
            DELETE FROM t WHERE a = ';';
        END;
        /* block; comment */ SELECT 1;
        SELECT 2
    """
    statements = split_statements(script)
    assert len(statements) == 4
    assert statements[0].endswith("DEFAULT 'x;y');")
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")
    assert statements[3] == "SELECT 2"
    assert split_statements("  \n-- only a comment\n") == ["-- only a comment"]
