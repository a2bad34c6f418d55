"""Member-data hooks: every member column in the schema is owned by a feature, and
exporting or erasing a member reaches every feature's rows and nobody else's."""

import pytest_asyncio

from bot.config import DEFAULT_FEATURES
from bot.core.feature import load_features
from bot.core.messages import Incoming
from bot.runtime import make_services
from bot.store import DM_GUILD
from tests.bot.harness import BOT, RecordingPoster, settings
from tests.bot.recorder import Recorder, next_id
from tests.bot.test_runtime import ClosedModel

GUILD = 100


def holds_a_member(column: str) -> bool:
    """Columns that name a member: user ids, authors, and who did something (``*_by``)."""
    return column in ("user_id", "author_id") or column.endswith(("_user_id", "_by"))


@pytest_asyncio.fixture
async def features(db, local_model):
    services = make_services(settings(), db, local_model, RecordingPoster(), bot_user_id=BOT,
                             bot_name="bot")
    loaded = load_features(DEFAULT_FEATURES, services)
    yield loaded, services
    services.pipeline.close()
    await loaded.stop()
    await services.writer.close()


async def test_every_member_column_is_covered_by_a_features_data_hooks(db):
    services = make_services(settings(), db, ClosedModel(), RecordingPoster(), bot_user_id=BOT,
                             bot_name="bot")
    loaded = load_features(DEFAULT_FEATURES, services)
    covered = {c for f in loaded.features if f.data is not None for c in f.data.covers}
    tables = [r[0] for r in await db.fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
    member_columns = set()
    for table in tables:
        for column in await db.fetchall(f"SELECT name FROM pragma_table_info('{table}')"):
            if holds_a_member(column[0]):
                member_columns.add(f"{table}.{column[0]}")
    assert member_columns, "the schema has no member columns at all?"
    assert member_columns <= covered, f"no feature exports/deletes {sorted(member_columns - covered)}"
    assert covered <= member_columns, f"declared but not in the schema: {sorted(covered - member_columns)}"
    await services.writer.close()


def message(content, author, name, *, guild=GUILD, reply_to=None, mentions=True):
    return Incoming(message_id=next_id(), guild_id=guild, channel_id=7, channel_name="general",
                    author_id=author, author_name=name, content=content, created_at=1,
                    mentions_bot=mentions, reply_to_id=reply_to)


async def test_export_and_delete_reach_every_feature_and_only_that_member(features, db):
    loaded, services = features
    ana, bob = 42, 43
    for msg in (message("I'm a size M @bot", ana, "ana"), message("I love linen @bot", bob, "bob"),
                message("I'm a size S @bot", ana, "ana", guild=None)):
        await services.pipeline.on_message(msg, Recorder())
    await services.writer.flush()

    data = await loaded.export_member(GUILD, ana)
    assert data["user_id"] == "42" and data["guild_id"] == str(GUILD)
    assert [m["content"] for m in data["archive"]["messages"]] == ["I'm a size M @bot"]
    assert data["archive"]["member"]["display_name"] == "ana"
    assert [f["value"] for f in data["memory"]] == ["size M"]
    assert len(data["chat"]) >= 1  # the bot's answer to ana
    assert all(a["reply_to_id"] for a in data["chat"])

    counts = await loaded.delete_member(GUILD, ana)
    assert counts["memory"] == 1 and counts["chat"] >= 1 and counts["archive"] == 2  # message + member
    after = await loaded.export_member(GUILD, ana)
    assert after["archive"] == {"member": None, "messages": []}
    assert after["memory"] == [] and after["chat"] == []
    # Bob in the guild, and ana's direct messages, are untouched.
    assert [f["value"] for f in (await loaded.export_member(GUILD, bob))["memory"]] == ["loves linen"]
    dm = await loaded.export_member(DM_GUILD, ana)
    assert [f["value"] for f in dm["memory"]] == ["size S"] and dm["archive"]["messages"]


async def test_answers_stay_the_members_data_whatever_order_they_were_archived_in(db):
    """On Discord the gateway archives the bot's own posts too, without knowing what they
    answered, often before the chat feature's own write; and the question may be deleted
    later. Neither may hide an answer from the member's export or deletion."""
    from bot.store import Archive, ArchivedMessage

    services = make_services(settings(), db, ClosedModel(), RecordingPoster(), bot_user_id=BOT,
                             bot_name="bot")
    loaded = load_features(DEFAULT_FEATURES, services)
    archive = Archive(db)

    def row(message_id, author, **kw):
        return ArchivedMessage(message_id=message_id, guild_id=GUILD, channel_id=7,
                               author_id=author, content=f"m{message_id}", created_at=message_id,
                               **kw)

    await archive.add(row(10, 42))  # ana's question
    await archive.add_many([row(11, BOT, is_bot=True), row(12, BOT, is_bot=True)])  # gateway
    await archive.add_many([row(11, BOT, is_bot=True, reply_to_id=10, answered_user_id=42),
                            row(12, BOT, is_bot=True, reply_to_id=11, answered_user_id=42)])
    await archive.add(row(12, BOT, is_bot=True))  # a late gateway copy (an edit) keeps the link
    await archive.delete(10)  # ana deleted her question
    exported = await loaded.export_member(GUILD, 42)
    assert [a["message_id"] for a in exported["chat"]] == ["11", "12"]
    assert (await loaded.delete_member(GUILD, 42))["chat"] == 2
    assert await db.fetchall("SELECT message_id FROM messages") == []
    await services.writer.close()
