"""Database, archive and backup against real SQLite files."""

import asyncio
import logging
import sqlite3

import pytest

from bot.store import Archive, ArchivedMessage, ArchiveWriter, Database, StoreError, backup

GUILD, CHANNEL, THREAD = 1, 10, 11


def message(message_id, *, channel=CHANNEL, thread=None, author=5, guild=GUILD, content=None):
    return ArchivedMessage(
        message_id=message_id,
        guild_id=guild,
        channel_id=channel,
        thread_id=thread,
        author_id=author,
        author_name=f"user{author}",
        content=content if content is not None else f"message {message_id}",
        created_at=1_700_000_000_000 + message_id,
    )


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
            message(4, author=7, guild=None, channel=40),
            message(5, author=7, thread=THREAD),
        ]
    )
    assert [m.message_id for m in await archive.by_author(GUILD, 7, 10)] == [1, 5]
    assert [m.message_id for m in await archive.by_author(None, 7, 10)] == [4]
    assert [m.message_id for m in await archive.by_author(GUILD, 7, 1)] == [5]


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


async def test_a_bad_row_rolls_back_its_whole_batch(archive):
    with pytest.raises(sqlite3.IntegrityError):
        await archive.add_many([message(1), message(2, thread=CHANNEL)])  # thread == channel
    assert await archive.recent(CHANNEL, 10) == []


async def test_context_fetch_uses_the_channel_index(db):
    plan = await db.fetchall(
        "EXPLAIN QUERY PLAN SELECT * FROM messages WHERE channel_id = 1 AND thread_id IS NULL "
        "AND message_id < 5 ORDER BY message_id DESC LIMIT 30"
    )
    assert "USING INDEX messages_channel" in plan[0]["detail"]


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
