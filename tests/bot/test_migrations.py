"""Migrations: from empty, from every earlier version, atomic failures, and refusing the future."""

import asyncio
import shutil
import sqlite3

import pytest

from bot.store import DM_GUILD, Archive, Database, StoreError, migrate
from bot.store.migrations import MIGRATIONS_DIR, discover, split_statements
from tests.bot.migration_samples import SAMPLES

LATEST = discover(MIGRATIONS_DIR)[-1].version


# Tables 0002 dropped: no code used them, and their owners will create their own.
DROPPED_IN_2 = {
    "member_interests", "member_sentiment", "automod_rules", "mod_flags", "mod_cases",
    "case_notes", "drafts", "schedules",
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
    """Each version's rows are written while the database is at that version, so rows
    only an old schema accepts (a DM with a NULL guild at version 1) are upgraded too."""
    path = tmp_path / "bot.db"
    for version in range(1, start + 1):
        assert await migrate(path, copy_migrations(tmp_path, version)) == [version]
        with sqlite3.connect(path) as conn:
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


async def test_version_2_files_dms_under_guild_0_and_gives_every_author_a_member_row(tmp_path):
    path = tmp_path / "bot.db"
    await migrate(path, copy_migrations(tmp_path, 1))
    with sqlite3.connect(path) as conn:
        conn.executemany(
            "INSERT INTO members (guild_id, user_id, display_name, first_seen, last_seen, "
            "opted_out_training) VALUES (?, ?, ?, ?, ?, ?)",
            [(1, 42, "Ana", 1000, 2000, 0), (0, 43, "Bo (memory)", 5000, 5000, 1)],
        )
        conn.executemany(
            "INSERT INTO member_facts (id, guild_id, user_id, kind, value, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(1, 1, 42, "size", "M", 1000, 1000), (2, 0, 43, "order", "order #1234", 5000, 5000)],
        )
        conn.executemany(
            "INSERT INTO messages (message_id, guild_id, channel_id, thread_id, author_id, "
            "author_name, content, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (900, 1, 5, None, 42, "Ana", "hi", 1500),
                (901, 1, 5, 77, 42, "Ana B", "in a thread", 2500),
                (910, None, 6, None, 43, "bo-old", "a dm", 3000),
                (911, None, 6, None, 43, "bo-new", "another dm", 4000),
                (920, 1, 5, None, 44, "Cy old", "first", 1200),
                (921, 1, 5, None, 44, "Cy", "same ms", 1800),
                (922, 1, 5, None, 44, "Cy new", "same ms, later id", 1800),
                (930, 2, 8, None, 42, "Ana elsewhere", "other guild", 1700),
            ],
        )
    conn.close()

    upto_2 = copy_migrations(tmp_path, 2)  # this test is about version 2 itself
    assert await migrate(path, upto_2) == [2]

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        guilds = conn.execute("SELECT message_id, guild_id FROM messages ORDER BY 1").fetchall()
        members = conn.execute(
            "SELECT guild_id, user_id, display_name, first_seen, last_seen, opted_out_training "
            "FROM members ORDER BY 1, 2"
        ).fetchall()
        facts = conn.execute(
            "SELECT id, guild_id, user_id, kind, value FROM member_facts ORDER BY id"
        ).fetchall()
        columns = {row[1]: row for row in conn.execute("PRAGMA table_info(messages)")}
        strict = dict(conn.execute("SELECT name, strict FROM pragma_table_list WHERE schema = 'main'"))
        indexes = {
            row[0]: row[1] for row in conn.execute(
                "SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
            )
        }
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        conn.execute(  # the kind list is gone
            "INSERT INTO member_facts (guild_id, user_id, kind, value, created_at, updated_at) "
            "VALUES (1, 42, 'allergy', 'wool', 1, 1)"
        )
    conn.close()

    assert guilds == [(900, 1), (901, 1), (910, 0), (911, 0), (920, 1), (921, 1), (922, 1), (930, 2)]
    assert columns["guild_id"][2:4] == ("INTEGER", 1)  # type, notnull
    assert strict["messages"] == 1 and strict["member_facts"] == 1
    assert members == [
        # memory's newer name and its opt-out stay; the DMs widen first_seen only
        (0, 43, "Bo (memory)", 3000, 5000, 1),
        # the newest message names the member; first_seen stays at the older member row
        (1, 42, "Ana B", 1000, 2500, 0),
        # a tie on created_at goes to the later message id
        (1, 44, "Cy new", 1200, 1800, 0),
        (2, 42, "Ana elsewhere", 1700, 1700, 0),
    ]
    assert facts == [(1, 1, 42, "size", "M"), (2, 0, 43, "order", "order #1234")]
    assert {name for name, table in indexes.items() if table == "messages"} == {
        "messages_channel", "messages_thread", "messages_author"
    }
    assert indexes["member_facts_user"] == "member_facts"
    assert not tables & DROPPED_IN_2
    assert not set(indexes.values()) & DROPPED_IN_2

    db = await Database.open(path)  # today's code reads through the latest schema
    try:
        assert [m.message_id for m in await Archive(db).by_author(DM_GUILD, 43, 10)] == [910, 911]
        async with db.transaction() as conn:  # the rebuilt facts still cascade from members
            await conn.execute("DELETE FROM members WHERE guild_id = 0 AND user_id = 43")
        assert tuple(await db.fetchone("SELECT count(*) FROM member_facts WHERE user_id = 43")) == (0,)
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
        "INSERT INTO member_facts (guild_id, user_id, kind, value, created_at, updated_at) "
        "VALUES (1, 404, 'size', 'M', 1, 1);"
    )
    path = tmp_path / "bot.db"
    with pytest.raises(
        StoreError, match="broke a foreign key: member_facts row 1 points at a missing members row"
    ):
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
