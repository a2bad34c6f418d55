"""Privacy through the console: the first-storage note, export with every stored item,
deletion that leaves nothing but the documented case records (every table scanned),
opt-out that stores nothing, the facts, purging a member who left, consent settings, and
retention deleting exactly the old rows."""

import asyncio
import json
import re
import time
from pathlib import Path

from bot.console.world import CHANNELS, GUILD_ID, member_id
from bot.features.privacy import enforce_retention
from bot.store import Archive, ArchivedMessage
from tests.bot.features.test_announcements import shop  # noqa: F401 (fixture)
from tests.bot.features.test_insights import labels
from tests.bot.test_adapters import console_lines

ANA = member_id("ana")


async def rows_naming(db, user_id):
    """Every row of every table with ``user_id`` in any column: (table, column, rowid
    or key, row). Tables come from sqlite_master, so a new table cannot be missed."""
    found = []
    tables = [r[0] for r in await db.fetchall(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'kb_fts%' "
        "AND name NOT LIKE 'sqlite_%'")]
    for table in tables:
        columns = [r[1] for r in await db.fetchall(f"PRAGMA table_info({table})")]
        for column in columns:
            for row in await db.fetchall(f"SELECT * FROM {table} WHERE {column} = ?", (user_id,)):
                found.append((table, column, dict(row)))
    return found


async def test_ana_is_told_once_and_export_then_delete_leave_only_the_case(shop, tmp_path):  # noqa: F811
    rt, console, out, model = shop
    model.answers += ["Noted!"]
    lines = await console_lines(console, out, [
        "mo: /mod modlog channel channel=#mod-log",
        "ana: my order never arrived and the box was broken",
        "ana: @bot I'm a size M",
        'mo: /mod warn ana "rude to staff"',
    ], first_notes=True)
    notes = [line for line in lines if line.startswith("[bot → ana (DM)] Hi! I keep the messages")]
    assert len(notes) == 1  # told once, on the first stored message
    await labels(rt, 2)
    await asyncio.sleep(0.1)

    lines = await console_lines(console, out, ["ana: /privacy export"])
    assert lines[0] == f"[bot → ana] Everything I keep about you here (user id {ANA})."
    path = Path(re.search(r"\(file saved: (.+\.json)\)", "\n".join(lines)).group(1))
    data = json.loads(path.read_text())
    assert data["user_id"] == str(ANA)
    assert [m["content"] for m in data["archive"]["messages"]] == [
        "my order never arrived and the box was broken", "@bot I'm a size M"]
    assert any("size M" in f["value"] for f in data["memory"])
    assert len(data["insights"]["message_labels"]) == 2
    assert [f["number"] for f in data["insights"]["followups"]] == [1]
    assert data["chat"] and data["chat"][0]["content"] == "Noted!"
    assert "rude to staff" in json.dumps(data["moderation"])
    assert data["privacy"]["told_at"] is not None

    lines = await console_lines(console, out, ["ana: /privacy delete"])
    assert "It cannot be undone." in lines[0] and "[1] Delete my data" in lines[-1]
    lines = await console_lines(console, out, ["bo: !press 1"])
    assert lines == ["[bot → bo] Only the member who asked can confirm this."]
    lines = await console_lines(console, out, ["ana: !press 1"])
    assert lines[0].startswith("[bot → ana] Done: ") and "kept as safety records" in lines[0]
    left = await rows_naming(rt.services.db, ANA)
    assert {(table, column) for table, column, _ in left} == {("mod_cases", "user_id")}
    (_, _, case), = left
    assert case["evidence"] is None and case["attachments"] == "[]"


async def test_an_opted_out_member_is_never_stored_until_they_opt_in(shop):  # noqa: F811
    rt, console, out, model = shop
    model.answers += ["Hi!"]
    await console_lines(console, out, ["ana: hello there", "ana: /privacy opt-out"])
    lines = await console_lines(console, out, ["ana: my secret plans", "ana: I'm allergic to wool",
                                               "ana: @bot are you there?"])
    assert "[bot] Hi!" in lines  # still answered; the answer is not kept either
    await rt.services.writer.flush()
    (left,) = await rows_naming(rt.services.db, ANA)  # only the record of the opt-out
    assert left[:2] == ("member_consent", "user_id")
    assert (left[2]["guild_id"], left[2]["storage"], left[2]["training"]) == (GUILD_ID, "out", "out")
    lines = await console_lines(console, out, ["ana: /privacy opt-in", "ana: back again"])
    assert lines[0] == "[bot → ana] Thanks: I keep your messages here again."
    await rt.services.writer.flush()
    stored = await rt.services.db.fetchall("SELECT content FROM messages WHERE author_id = ?", (ANA,))
    assert [r[0] for r in stored] == ["back again"]


async def test_facts_forget_purge_member_and_the_settings(shop):  # noqa: F811
    rt, console, out, model = shop
    model.answers += ["ok", "ok"]
    await console_lines(console, out, ["ana: @bot I'm a size M", "ana: @bot I'm allergic to wool"])
    lines = await console_lines(console, out, ["ana: /privacy facts"])
    assert lines[0] == "[bot → ana] What I remember about you:"
    lines = await console_lines(console, out, ["ana: /privacy forget fact=wool", "ana: /privacy forget fact=zzz"])
    assert lines[0].startswith("[bot → ana] Forgotten: ") and "wool" in lines[0]
    assert "No fact I remember" in lines[1]

    lines = await console_lines(console, out, [f"ana: /mod purge-member user={ANA}",
                                               f"mo: /mod purge-member user=<@{ANA}>"])
    assert "You need" in lines[0]
    assert lines[1].startswith("[bot → mo] Erased ")
    await rt.services.writer.flush()
    assert not await rt.services.db.fetchall("SELECT 1 FROM messages WHERE author_id = ?", (ANA,))

    lines = await console_lines(console, out, [
        "mo: /settings privacy archive=off training=on retention_days=30", "bo: hi all",
        "mo: /privacy statement"])
    assert lines[0] == ("[bot → mo] Archiving: off. Training use: on. Retention: 30 days (older "
                        "messages are deleted daily).")
    await rt.services.writer.flush()
    assert not await rt.services.db.fetchall("SELECT 1 FROM messages WHERE author_id = ?",
                                             (member_id("bo"),))
    assert any("In this server: archiving is off, training use is on, and messages are kept "
               "30 days." in line for line in lines)


async def test_retention_deletes_exactly_the_rows_older_than_the_period(db):
    from bot.privacy.consent import Consent

    now = int(time.time() * 1000)
    day = 86_400_000
    archive = Archive(db)
    await archive.add_many([
        ArchivedMessage(1, 5, CHANNELS["general"], 42, "old", now - 31 * day),
        ArchivedMessage(4, 5, CHANNELS["general"], 42, "old, complained about", now - 31 * day),
        ArchivedMessage(2, 5, CHANNELS["general"], 42, "just inside", now - 29 * day),
        ArchivedMessage(3, 6, CHANNELS["general"], 42, "another guild, no retention", now - 400 * day),
    ])
    await Consent(db).set_guild(5, "retention_days", 30)
    from bot.insights.store import InsightsStore
    store = InsightsStore(db)
    resolved = await store.add_followup(5, 4, CHANNELS["general"], 42, "ana", "old", now - 31 * day)
    still_open = await store.add_followup(5, 1, CHANNELS["general"], 42, "ana", "old", now - 31 * day)
    await store.resolve(5, resolved.number, 7, "refunded")

    class Flush:
        async def flush(self):
            pass

    assert await enforce_retention(db, Flush()) == 3  # two messages, one resolved complaint
    assert [r[0] for r in await db.fetchall("SELECT message_id FROM messages ORDER BY 1")] == [2, 3]
    assert [f.number for f in await store.followups(5)] == [still_open.number]  # open: kept
