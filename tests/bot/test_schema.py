"""The schema's promises: member data is findable, constraints hold, search and claims work."""

import asyncio
import sqlite3

import pytest

from bot.store import Database

# Tables holding rows *about* a member, and the column with the member's user id. Export and
# deletion requests walk this map, so each column needs an index that starts with it.
ABOUT_MEMBERS = {
    "members": "user_id",
    "member_facts": "user_id",
    "member_interests": "user_id",
    "member_sentiment": "user_id",
    "messages": "author_id",
    "mod_flags": "user_id",
    "mod_cases": "target_user_id",
}
# Tables about the guild, staff work or bookkeeping rather than about a member.
NOT_ABOUT_MEMBERS = {
    "guild_settings", "channel_settings", "products", "faq", "corpus_exports",
    "automod_rules", "case_notes", "drafts", "schedules", "schema_migrations",
}


async def test_every_table_is_classified_and_member_rows_are_indexed_by_user(db):
    rows = await db.fetchall("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
    search_indexes = [r["name"] for r in rows if r["sql"].startswith("CREATE VIRTUAL")]
    # FTS5 keeps its index in shadow tables named after the virtual table.
    tables = {r["name"] for r in rows if not r["name"].startswith(tuple(search_indexes))}
    assert search_indexes == ["products_fts", "faq_fts"]
    assert tables == set(ABOUT_MEMBERS) | NOT_ABOUT_MEMBERS
    for table, column in ABOUT_MEMBERS.items():
        leading = set()
        for index in await db.fetchall(f"PRAGMA index_list({table})"):
            first = await db.fetchone(f"PRAGMA index_info({index['name']})")
            leading.add(first["name"])
        assert column in leading, f"{table}.{column} has no index starting with it"


async def test_deleting_a_member_cascades_to_what_the_bot_learned(db):
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO members VALUES (1, 42, 'Ana', 0, 0, 0)")
        await conn.execute(
            "INSERT INTO products (id, guild_id, sku, name, created_at, updated_at) "
            "VALUES (7, 1, 'S1', 'Socks', 0, 0)"
        )
        await conn.execute(
            "INSERT INTO member_facts (guild_id, user_id, kind, value, created_at, updated_at) "
            "VALUES (1, 42, 'size', 'M', 0, 0)"
        )
        await conn.execute("INSERT INTO member_interests VALUES (1, 42, 7, 0.9, 0)")
        await conn.execute("INSERT INTO member_sentiment VALUES (1, 42, 86400000, 0.5, 1)")
    await db.write("DELETE FROM members WHERE user_id = 42")
    for table in ("member_facts", "member_interests", "member_sentiment"):
        assert tuple(await db.fetchone(f"SELECT count(*) FROM {table}")) == (0,)


async def test_facts_need_a_member_row(db):
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        await db.write(
            "INSERT INTO member_facts (guild_id, user_id, kind, value, created_at, updated_at) "
            "VALUES (1, 42, 'size', 'M', 0, 0)"
        )


@pytest.mark.parametrize(
    "statement",
    [
        # a mod case needs a real reason
        "INSERT INTO mod_cases (guild_id, case_number, action, target_user_id, moderator_id, "
        "reason, created_at) VALUES (1, 1, 'ban', 2, 3, '  ', 0)",
        # strict tables reject text in integer columns
        "INSERT INTO messages (message_id, channel_id, author_id, content, created_at) "
        "VALUES ('abc', 1, 2, 'x', 0)",
        # booleans are 0 or 1
        "INSERT INTO members VALUES (1, 2, '', 0, 0, 2)",
        # approval needs an approver
        "INSERT INTO drafts (guild_id, author_id, kind, title, body, status, created_at, updated_at) "
        "VALUES (1, 2, 'announcement', 't', 'b', 'approved', 0, 0)",
        "INSERT INTO guild_settings (guild_id, settings, updated_at) VALUES (1, 'not json', 0)",
    ],
)
async def test_constraints_reject_bad_rows(db, statement):
    with pytest.raises(sqlite3.IntegrityError):
        await db.write(statement)


async def test_catalog_search_follows_inserts_updates_and_deletes(db):
    await db.write(
        "INSERT INTO products (id, guild_id, sku, name, description, created_at, updated_at) "
        "VALUES (1, 1, 'H-1', 'Merino hoodie', 'Warm and soft', 0, 0)"
    )
    await db.write(
        "INSERT INTO faq (id, guild_id, question, answer, created_at, updated_at) "
        "VALUES (1, 1, 'How long does shipping take?', 'Three to five days.', 0, 0)"
    )

    async def search(table, query):
        rows = await db.fetchall(f"SELECT rowid FROM {table} WHERE {table} MATCH ?", (query,))
        return [row[0] for row in rows]

    assert await search("products_fts", "hoodies") == [1]  # porter stemming
    assert await search("faq_fts", "shipping") == [1]
    await db.write("UPDATE products SET name = 'Merino sweater' WHERE id = 1")
    assert await search("products_fts", "hoodie") == []
    assert await search("products_fts", "sweater") == [1]
    await db.write("DELETE FROM products WHERE id = 1")
    assert await search("products_fts", "sweater") == []


async def test_a_schedule_is_claimed_exactly_once(db):
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO drafts (id, guild_id, author_id, kind, title, body, status, approved_by, "
            "created_at, updated_at) VALUES (1, 1, 2, 'announcement', 't', 'b', 'approved', 3, 0, 0)"
        )
        await conn.execute(
            "INSERT INTO schedules (id, draft_id, channel_id, run_at, created_at, updated_at) "
            "VALUES (1, 1, 5, 100, 0, 0)"
        )
    claim = (
        "UPDATE schedules SET state = 'claimed', claimed_by = ?, claimed_at = 150, "
        "attempts = attempts + 1, updated_at = 150 WHERE id = 1 AND state = 'pending' RETURNING id"
    )

    async def try_claim(database, worker):
        async with database.transaction() as conn:
            return list(await conn.execute_fetchall(claim, (worker,)))

    other_process = await Database.open(db.path)  # separate connections, like a second bot
    try:
        results = await asyncio.gather(
            *(try_claim(database, f"worker-{i}") for i in range(3) for database in (db, other_process))
        )
    finally:
        await other_process.close()
    assert sorted(len(r) for r in results) == [0, 0, 0, 0, 0, 1]
    with pytest.raises(sqlite3.IntegrityError):  # done needs the posted message id
        await db.write("UPDATE schedules SET state = 'done' WHERE id = 1")
    await db.write("DELETE FROM drafts WHERE id = 1")
    assert tuple(await db.fetchone("SELECT count(*) FROM schedules")) == (0,)
