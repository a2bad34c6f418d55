"""Database, archive and backup against real SQLite files."""

import asyncio
import logging
import sqlite3

import pytest

from bot.store import (
    DM_GUILD,
    Archive,
    ArchivedMessage,
    ArchiveWriter,
    Database,
    StoreError,
    backup,
    guild_key,
)

GUILD, CHANNEL, THREAD = 1, 10, 11


T0 = 1_700_000_000_000


def message(message_id, *, channel=CHANNEL, thread=None, author=5, guild=GUILD, content=None,
            name=None, at=None):
    return ArchivedMessage(
        message_id=message_id,
        guild_id=guild,
        channel_id=channel,
        thread_id=thread,
        author_id=author,
        author_name=name if name is not None else f"user{author}",
        content=content if content is not None else f"message {message_id}",
        created_at=at if at is not None else T0 + message_id,
    )


async def member_rows(db):
    rows = await db.fetchall(
        "SELECT guild_id, user_id, display_name, first_seen, last_seen, opted_out_training "
        "FROM members ORDER BY guild_id, user_id"
    )
    return [tuple(row) for row in rows]


async def wait_until(condition, timeout=5.0):
    """Poll instead of sleeping a fixed time: fast when things work, bounded when not."""
    async with asyncio.timeout(timeout):
        while not await condition():
            await asyncio.sleep(0.005)


# Database -------------------------------------------------------------------------------


async def test_transaction_rolls_back_on_error_and_readers_see_only_commits(db):
    with pytest.raises(RuntimeError):
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO members VALUES (1, 2, 'a', 0, 0, 0)")
            raise RuntimeError("boom")
    assert tuple(await db.fetchone("SELECT count(*) FROM members")) == (0,)

    async with db.transaction() as conn:
        await conn.execute("INSERT INTO members VALUES (1, 2, 'a', 0, 0, 0)")
        # The reader connection does not see this transaction until it commits.
        assert tuple(await db.fetchone("SELECT count(*) FROM members")) == (0,)
    assert tuple(await db.fetchone("SELECT count(*) FROM members")) == (1,)


async def test_reader_connection_is_read_only(db):
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        await db.fetchall("DELETE FROM members")


async def test_open_reports_an_unusable_path(tmp_path):
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreError, match="cannot open database .*dir.db: it is a directory"):
        await Database.open(tmp_path / "dir.db")
    (tmp_path / "notes.txt").write_bytes(b"shopping list: socks, more socks" * 100)
    with pytest.raises(StoreError, match="cannot open database .*notes.txt: file is not a database"):
        await Database.open(tmp_path / "notes.txt")


# Archive --------------------------------------------------------------------------------


async def test_recent_returns_newest_messages_oldest_first(archive):
    await archive.add_many([message(i) for i in range(1, 51)])
    await archive.add_many([message(100 + i, channel=20) for i in range(5)])
    await archive.add(message(200, thread=THREAD))

    recent = await archive.recent(CHANNEL, 5)
    assert [m.message_id for m in recent] == [46, 47, 48, 49, 50]
    assert recent[0] == message(46)
    older = await archive.recent(CHANNEL, 3, before_id=46)
    assert [m.message_id for m in older] == [43, 44, 45]
    assert await archive.recent(CHANNEL, 5, before_id=1) == []
    assert [m.message_id for m in await archive.thread(THREAD, 10)] == [200]


async def test_by_author_is_per_guild_and_covers_direct_messages(archive):
    await archive.add_many(
        [
            message(1, author=7),
            message(2, author=8),
            message(3, author=7, guild=2, channel=30),
            message(4, author=7, guild=DM_GUILD, channel=40),
            message(5, author=7, thread=THREAD),
        ]
    )
    assert [m.message_id for m in await archive.by_author(GUILD, 7, 10)] == [1, 5]
    assert [m.message_id for m in await archive.by_author(DM_GUILD, 7, 10)] == [4]
    assert [m.message_id for m in await archive.by_author(GUILD, 7, 1)] == [5]
    assert await archive.by_author(2, 8, 10) == []


def test_direct_messages_have_one_guild_key():
    assert DM_GUILD == 0
    assert guild_key(None) == DM_GUILD
    assert guild_key(123456789012345678) == 123456789012345678
    with pytest.raises(ValueError, match="message 4: guild_id is None; .* DM_GUILD"):
        message(4, guild=None)


async def test_a_direct_message_is_archived_under_guild_0(db, archive):
    await archive.add(message(4, author=7, guild=guild_key(None), channel=40, name="ana"))
    [dm] = await archive.by_author(0, 7, 10)
    assert dm == message(4, author=7, guild=0, channel=40, name="ana")
    assert await archive.by_author(GUILD, 7, 10) == []
    assert await member_rows(db) == [(0, 7, "ana", T0 + 4, T0 + 4, 0)]


async def test_archiving_records_each_author_in_members(db, archive):
    await archive.add_many(
        [
            message(1, author=7, name="ana", at=T0 + 20),
            message(2, author=8, name="bo", at=T0 + 15),
            message(3, author=7, name="ana b", at=T0 + 30),
            message(4, author=7, name="ana c", at=T0 + 30),  # same time, later id: newest
            message(5, author=7, guild=2, channel=30, name="ana elsewhere", at=T0 + 10),
        ]
    )
    assert await member_rows(db) == [
        (GUILD, 7, "ana c", T0 + 20, T0 + 30, 0),
        (GUILD, 8, "bo", T0 + 15, T0 + 15, 0),
        (2, 7, "ana elsewhere", T0 + 10, T0 + 10, 0),
    ]

    # Backfill of older messages widens first_seen but keeps the newer name and last_seen.
    await archive.add_many([message(6, author=7, name="old ana", at=T0 + 5)])
    # A later batch moves last_seen and the name; the opt-out set meanwhile is kept.
    await db.write("UPDATE members SET opted_out_training = 1 WHERE user_id = 8")
    await archive.add_many([message(7, author=8, name="bo2", at=T0 + 40)])
    assert await member_rows(db) == [
        (GUILD, 7, "ana c", T0 + 5, T0 + 30, 0),
        (GUILD, 8, "bo2", T0 + 15, T0 + 40, 1),
        (2, 7, "ana elsewhere", T0 + 10, T0 + 10, 0),
    ]

    # Re-archiving the newest message with a changed name renames the member.
    await archive.add(message(7, author=8, name="bo3", at=T0 + 40))
    assert (await member_rows(db))[1] == (GUILD, 8, "bo3", T0 + 15, T0 + 40, 1)


async def test_a_member_row_from_memory_only_widens(db, archive):
    """Member memory writes members rows too (guild 0 for DMs); archiving must not narrow
    their seen times or take back a newer name."""
    await db.write("INSERT INTO members VALUES (0, 7, 'Ana (memory)', ?, ?, 0)", (T0 + 50, T0 + 60))
    await archive.add_many([message(1, author=7, guild=DM_GUILD, name="ana", at=T0 + 55)])
    assert await member_rows(db) == [(0, 7, "Ana (memory)", T0 + 50, T0 + 60, 0)]


async def test_add_is_idempotent_and_backfill_brings_content_up_to_date(archive):
    await archive.add(message(1, content="first"))
    await archive.add_many([message(1, content="edited while offline"), message(2)])
    assert [m.content for m in await archive.recent(CHANNEL, 10)] == ["edited while offline", "message 2"]


async def test_edit_and_delete(archive):
    await archive.add_many([message(i) for i in range(1, 6)])
    assert await archive.edit(2, "fixed typo", 1_800_000_000_000)
    assert not await archive.edit(99, "never archived", 1)
    assert await archive.delete(1)
    assert not await archive.delete(1)
    assert await archive.delete_many([3, 4, 99]) == 2
    remaining = await archive.recent(CHANNEL, 10)
    assert [(m.message_id, m.content, m.edited_at) for m in remaining] == [
        (2, "fixed typo", 1_800_000_000_000),
        (5, "message 5", None),
    ]


async def test_a_bad_row_rolls_back_its_whole_batch(db, archive):
    with pytest.raises(sqlite3.IntegrityError, match="CHECK constraint failed: thread_id <> ch"):
        await archive.add_many([message(1), message(2, thread=CHANNEL)])  # thread == channel
    assert await archive.recent(CHANNEL, 10) == []
    assert await member_rows(db) == []  # the member upsert was in the same transaction


async def test_context_fetch_uses_the_channel_index(db):
    plan = await db.fetchall(
        "EXPLAIN QUERY PLAN SELECT * FROM messages WHERE channel_id = 1 AND thread_id IS NULL "
        "AND message_id < 5 ORDER BY message_id DESC LIMIT 30"
    )
    assert "USING INDEX messages_channel" in plan[0]["detail"]


async def test_by_author_uses_the_author_index(db):
    plan = await db.fetchall(
        "EXPLAIN QUERY PLAN SELECT * FROM messages WHERE author_id = 7 AND guild_id = 0 "
        "ORDER BY message_id DESC LIMIT 30"
    )
    assert "USING INDEX messages_author (author_id=? AND guild_id=?)" in plan[0]["detail"]


# ArchiveWriter --------------------------------------------------------------------------


async def test_writer_flushes_full_batches_at_once(archive):
    writer = ArchiveWriter(archive, max_rows=3, max_delay_s=60)
    for i in range(1, 8):
        await writer.add(message(i))
    assert len(await archive.recent(CHANNEL, 10)) == 6
    assert writer.pending == 1
    await writer.close()
    assert len(await archive.recent(CHANNEL, 10)) == 7
    with pytest.raises(RuntimeError, match="closed"):
        await writer.add(message(8))


async def test_writer_flushes_a_partial_batch_after_the_delay(archive):
    writer = ArchiveWriter(archive, max_rows=1000, max_delay_s=0.01)
    await writer.add(message(1))

    async def archived():
        return len(await archive.recent(CHANNEL, 10)) == 1

    await wait_until(archived)
    assert writer.pending == 0
    await writer.close()


async def test_edits_and_deletes_apply_after_buffered_inserts(archive):
    writer = ArchiveWriter(archive, max_rows=1000, max_delay_s=60)
    for i in range(1, 5):
        await writer.add(message(i))
    assert await writer.edit(1, "edited", 5)
    assert await writer.delete(2)
    await writer.add(message(5))
    assert await writer.delete_many([3, 5]) == 2
    await writer.close()
    assert [(m.message_id, m.content) for m in await archive.recent(CHANNEL, 10)] == [
        (1, "edited"),
        (4, "message 4"),
    ]


async def test_failed_batches_are_kept_and_retried(db, archive, caplog):
    with sqlite3.connect(db.path) as other:  # a transient failure, from outside the bot
        other.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON messages "
            "BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
        )
    other.close()
    writer = ArchiveWriter(archive, max_rows=1000, max_delay_s=0.01)
    await writer.add(message(1))
    with pytest.raises(sqlite3.IntegrityError, match="disk says no"):
        await writer.flush()
    assert writer.pending == 1

    caplog.set_level(logging.ERROR, logger="bot.store.archive")
    await writer.add(message(2))

    async def logged():
        return any("kept for retry" in r.getMessage() for r in caplog.records)

    await wait_until(logged)  # the timer's flush failed and was logged, not lost
    with sqlite3.connect(db.path) as other:
        other.execute("DROP TRIGGER refuse")
    other.close()

    async def archived():
        return len(await archive.recent(CHANNEL, 10)) == 2

    await wait_until(archived)
    await writer.close()


# Backup ---------------------------------------------------------------------------------


async def test_backup_while_another_connection_writes(db, archive, tmp_path):
    await archive.add_many([message(i) for i in range(1, 20_001)])
    stop = asyncio.Event()
    next_id = 20_001

    async def keep_writing():
        nonlocal next_id
        other_db = await Database.open(db.path)  # a separate writer connection
        try:
            while not stop.is_set():
                await Archive(other_db).add_many([message(next_id + i) for i in range(50)])
                next_id += 50
                await asyncio.sleep(0)
        finally:
            await other_db.close()

    async def writing():
        return next_id > 20_001

    writer = asyncio.create_task(keep_writing())
    await wait_until(writing)
    dest = tmp_path / "backups" / "copy.db"
    await backup(db.path, dest)
    stop.set()
    await writer

    with sqlite3.connect(dest) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        copied = copy.execute("SELECT count(*), max(message_id) FROM messages").fetchone()
        version = copy.execute("PRAGMA user_version").fetchone()[0]
    copy.close()
    assert copied[0] >= 20_000 and copied[0] == copied[1]  # a consistent prefix, no holes
    assert version == (await db.fetchone("PRAGMA user_version"))[0]
    assert not list(dest.parent.glob(".*partial"))


async def test_backup_refuses_missing_source_and_itself(db, tmp_path):
    with pytest.raises(StoreError, match="no database at"):
        await backup(tmp_path / "missing.db", tmp_path / "copy.db")
    with pytest.raises(StoreError, match="is the database itself"):
        await backup(db.path, db.path)
