"""The acting /mod commands through the console: hierarchy, the bot's permissions,
cases, DMs, the mod log and escalation."""

from bot.console import member_id
from bot.console.world import CHANNELS, GUILD_ID
from bot.moderation.cases import CaseBook
from tests.bot.test_adapters import bot_runtime, console_lines  # noqa: F401 (fixture)


async def test_warnings_escalate_and_every_action_is_a_case(bot_runtime):  # noqa: F811
    rt, console, out = bot_runtime
    await rt.services.guilds.set_guild(GUILD_ID, "modlog_channel_id", CHANNELS["mod-log"])
    book = CaseBook(rt.services.db)
    await book.set_policy(GUILD_ID, escalate_after=2, dm_members=True)
    lines = await console_lines(console, out, [
        "ana: hi all",
        "mo: /mod warn ana \"posting spam\"",
        "mo: /mod warn ana \"more spam\"",
        "mo: /mod kick ana \"still spamming\"",
    ])
    assert any("You were warned by this server's moderators: posting spam" in line
               for line in lines), lines
    assert "[bot → mo] Case 1: ana was warned. They were told by DM." in lines
    assert ("[bot → mo] Case 2: ana was warned. They were told by DM. That makes 2 active "
            "warnings: case 3, a 60-minute timeout.") in lines
    assert "[server] ana is timed out for 60 minutes: 2 active warnings (escalation)" in lines
    assert "[server] ana was kicked: still spamming" in lines
    assert any(line.startswith("[bot → #mod-log] Case 4:") and "kicked" in line for line in lines)
    cases, total = await book.for_member(GUILD_ID, member_id("ana"), per_page=10)
    assert total == 4 and [c.action for c in cases] == ["kick", "timeout", "warn", "warn"]
    assert cases[1].actor_id == rt.services.bot_user_id and cases[1].duration_s == 3600


async def test_the_hierarchy_and_a_missing_reason_stop_an_action_before_anything_happens(bot_runtime):  # noqa: F811
    rt, console, out = bot_runtime
    lines = await console_lines(console, out, [
        "ana: hello",
        "mo: /mod timeout mo 10m \"testing\"",
        "mo: /mod timeout ana 10m \"   \"",
        "mo: /mod unban 123 \"appeal accepted\"",
        "mo: /mod timeout ana 10m \"cool off\"",
        "mo: /mod untimeout ana \"all good\"",
    ])
    assert lines[:3] == [
        "[bot → mo] You can't moderate yourself.",
        "[bot → mo] A reason is required; nothing was done.",
        "[bot → mo] that user is not banned; no case was opened.",
    ]
    assert "[server] ana is timed out for 10 minutes: cool off" in lines
    assert "[bot → mo] Case 1: ana was timed out." in lines
    assert "[server] ana's timeout was lifted: all good" in lines
    assert (await CaseBook(rt.services.db).for_member(GUILD_ID, member_id("ana")))[1] == 2


async def test_a_moderator_cannot_act_on_another_moderator(tmp_path, db):
    import io

    from bot.console import BOT_ID, Console
    from bot.runtime import start
    from tests.bot.harness import ScriptedClassifier, ScriptedModel, settings

    out = io.StringIO()
    console = Console(mods=frozenset({"mo", "kim"}), out=out, files_dir=tmp_path / "c")
    rt = await start(settings(DATA_DIR=str(tmp_path)), db, ScriptedModel(), console.poster,
                     bot_user_id=BOT_ID, bot_name="bot", members=console.members,
                     classifier=ScriptedClassifier())
    console.attach(rt)
    try:
        lines = await console_lines(console, out, ["mo: /mod kick kim \"rival\""])
        assert lines == ["[bot → mo] kim's highest role is the same as or above yours; nothing was done."]
    finally:
        rt.pipeline.close()
        await rt.features.stop()
        await rt.jobs.close()
        await rt.services.writer.close()


async def test_purge_deletes_recent_messages_or_one_members_with_a_case(bot_runtime):  # noqa: F811
    rt, console, out = bot_runtime
    lines = await console_lines(console, out, [
        "ana: one", "bo: two", "ana: three", "ana: four",
        "mo: /mod purge 3 \"off-topic\" member=ana",
        "mo: /mod purge 0 \"nothing\"",
        "bo: /mod purge 5 \"sneaky\"",
        "mo: /mod purge 100 \"clean slate\"",
    ])
    assert lines[:2] == ["[server] 2 messages by ana deleted in #general: off-topic",
                         "[bot → mo] Case 1: Deleted 2 messages by ana in #general."]
    assert lines[2] == "[bot → mo] count: the value must be at least 1, got 0"
    assert lines[3].startswith("[bot → bo] You need the Timeout Members or Manage Server")
    assert lines[4:] == ["[server] 2 messages deleted in #general: clean slate",
                         "[bot → mo] Deleted 2 messages in #general."]
    await rt.services.writer.flush()
    assert await rt.services.db.fetchall("SELECT content FROM messages") == []
    cases, _ = await CaseBook(rt.services.db).for_member(GUILD_ID, member_id("ana"))
    assert [(c.action, c.reason, c.channel_id) for c in cases] == [
        ("purge", "off-topic", CHANNELS["general"])]
