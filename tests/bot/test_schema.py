"""The schema's promises: member data is findable, constraints hold, search works."""

import asyncio
import re
import sqlite3

import pytest

from bot.store import Archive, ArchivedMessage, Database

# Tables holding rows *about* a member, and the column with the member's user id. Export and
# deletion requests walk this map, so each column needs an index that starts with it.
ABOUT_MEMBERS = {
    "members": "user_id",
    "member_facts": "user_id",
    "messages": "author_id",
    "mod_cases": "user_id",
    "mod_case_notes": "author_id",
    "mod_reports": "author_id",
    "mod_report_reporters": "user_id",
    "scheduled_posts": "created_by",
    "announcement_drafts": "author_id",
    "event_plans": "author_id",
    "topic_schedules": "updated_by",
    "message_labels": "author_id",
    "followups": "user_id",
    "member_consent": "user_id",
}
# Tables about the guild or bookkeeping rather than about a member.
NOT_ABOUT_MEMBERS = {
    "guild_settings", "channel_settings", "kb_entries", "corpus_exports", "schema_migrations",
    "product_drafts", "automod_rules", "mod_policy", "scheduled_deliveries",
    "message_products", "insight_digests", "model_choice",
}


async def test_every_table_is_classified_and_member_rows_are_indexed_by_user(db):
    rows = await db.fetchall("SELECT name, sql FROM sqlite_master WHERE type = 'table'")
    search_indexes = [r["name"] for r in rows if r["sql"].startswith("CREATE VIRTUAL")]
    # FTS5 keeps its index in shadow tables named after the virtual table.
    tables = {r["name"] for r in rows if not r["name"].startswith(tuple(search_indexes))}
    assert search_indexes == ["kb_fts"]
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
        await conn.execute("INSERT INTO members VALUES (1, 43, 'Bo', 0, 0, 0)")
        for user in (42, 43):
            await conn.execute(
                "INSERT INTO member_facts (guild_id, user_id, kind, value, created_at, updated_at) "
                "VALUES (1, ?, 'size', 'M', 0, 0)",
                (user,),
            )
    await db.write("DELETE FROM members WHERE user_id = 42")
    rows = await db.fetchall("SELECT user_id FROM member_facts")
    assert [row[0] for row in rows] == [43]


async def test_facts_need_a_member_row(db):
    with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
        await db.write(
            "INSERT INTO member_facts (guild_id, user_id, kind, value, created_at, updated_at) "
            "VALUES (1, 42, 'size', 'M', 0, 0)"
        )


@pytest.mark.parametrize(
    ("statement", "error"),
    [
        # strict tables reject text in integer columns
        ("INSERT INTO messages (message_id, guild_id, channel_id, author_id, content, created_at) "
         "VALUES ('abc', 1, 1, 2, 'x', 0)", "datatype mismatch"),
        # direct messages are guild 0, never NULL
        ("INSERT INTO messages (message_id, channel_id, author_id, content, created_at) "
         "VALUES (1, 1, 2, 'x', 0)", "NOT NULL constraint failed: messages.guild_id"),
        # a thread is not its own parent channel
        ("INSERT INTO messages (message_id, guild_id, channel_id, thread_id, author_id, content, "
         "created_at) VALUES (1, 1, 5, 5, 2, 'x', 0)", "CHECK constraint failed: thread_id <> channel_id"),
        # booleans are 0 or 1
        ("INSERT INTO members VALUES (1, 2, '', 0, 0, 2)",
         r"CHECK constraint failed: opted_out_training IN \(0, 1\)"),
        ("INSERT INTO members VALUES (1, 2, '', 5, 4, 0)",
         "CHECK constraint failed: last_seen >= first_seen"),
        # a fact says something
        ("INSERT INTO member_facts (guild_id, user_id, kind, value, created_at, updated_at) "
         "VALUES (1, 2, 'size', '  ', 0, 0)", r"CHECK constraint failed: length\(trim\(value\)\) > 0"),
        ("INSERT INTO guild_settings (guild_id, settings, updated_at) VALUES (1, 'not json', 0)",
         r"CHECK constraint failed: json_valid\(settings\)"),
        # a knowledge-base price is the text as written and its cents, or neither
        ("INSERT INTO kb_entries (guild_id, kind, key, title, price, created_at, updated_at) "
         "VALUES (1, 'product', 'A', 'a', '5', 0, 0)",
         r"CHECK constraint failed: \(price IS NULL\) = \(price_cents IS NULL\)"),
        ("INSERT INTO kb_entries (guild_id, kind, key, title, in_stock, created_at, updated_at) "
         "VALUES (1, 'product', 'A', 'a', 2, 0, 0)", r"CHECK constraint failed: in_stock IN \(0, 1\)"),
    ],
)
async def test_constraints_reject_bad_rows(db, statement, error):
    with pytest.raises(sqlite3.IntegrityError, match=error):
        await db.write(statement)


async def test_fact_kinds_are_not_listed_in_the_schema(db):
    """Kinds are validated in code (bot/chat/memory.py), so a new kind needs no rebuild."""
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO members VALUES (1, 42, 'Ana', 0, 0, 0)")
        await conn.execute(
            "INSERT INTO member_facts (guild_id, user_id, kind, value, created_at, updated_at) "
            "VALUES (1, 42, 'allergy', 'wool', 0, 0)"
        )
    rows = await db.fetchall("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")
    listing_text = [row["name"] for row in rows if re.search(r"\bIN\s*\(\s*'", row["sql"], re.I)]
    assert listing_text == []  # no CHECK (kind IN ('a', 'b')) left anywhere


async def test_knowledge_search_follows_inserts_updates_and_deletes(db):
    await db.write(
        "INSERT INTO kb_entries (id, guild_id, kind, key, title, body, category, attributes, "
        "created_at, updated_at) VALUES (1, 1, 'product', 'H-1', 'Merino hoodie', 'Warm and soft', "
        "'tops', '{\"colour\": \"sage\"}', 0, 0)"
    )
    await db.write(
        "INSERT INTO kb_entries (id, guild_id, kind, key, title, body, created_at, updated_at) "
        "VALUES (2, 1, 'faq', 'shipping', 'How long does shipping take?', 'Three to five days.', 0, 0)"
    )

    async def search(query):
        rows = await db.fetchall("SELECT rowid FROM kb_fts WHERE kb_fts MATCH ?", (query,))
        return [row[0] for row in rows]

    assert await search("hoodies") == [1]  # porter stemming
    assert await search("shipping") == [2]
    assert await search("sage OR tops OR h") == [1]  # attributes, category and sku (terms)
    await db.write("UPDATE kb_entries SET title = 'Merino sweater', attributes = '{}' WHERE id = 1")
    assert await search("hoodie OR sage") == []
    assert await search("sweater") == [1]
    await db.write("DELETE FROM kb_entries WHERE id = 1")
    assert await search("sweater") == []
    await db.write("INSERT INTO kb_fts (kb_fts, rank) VALUES ('integrity-check', 1)")


async def test_two_processes_archiving_one_member_agree_on_their_row(db):
    """Seen times only widen whichever batch commits first, across connections too."""
    other_process = await Database.open(db.path)  # separate connections, like a second bot

    def batch(first_id, times):
        return [
            ArchivedMessage(message_id=first_id + i, guild_id=1, channel_id=5, author_id=42,
                            author_name=f"ana@{at}", content="hi", created_at=at)
            for i, at in enumerate(times)
        ]

    try:
        await asyncio.gather(
            *(Archive(database).add_many(batch(1000 * n + 100 * k, [n * 10 + k, 500 - n * 10 - k]))
              for n, database in enumerate((db, other_process)) for k in range(5))
        )
    finally:
        await other_process.close()
    row = await db.fetchone("SELECT display_name, first_seen, last_seen FROM members")
    assert tuple(row) == ("ana@500", 0, 500)
    assert tuple(await db.fetchone("SELECT count(*) FROM members")) == (1,)
