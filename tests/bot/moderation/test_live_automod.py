"""Automod on live messages, through the console and the real pipeline: what it deletes,
who it spares, the cases it opens, and what it cannot do."""

import time

from bot.console import BOT_ID, member_id
from bot.console.output import ConsoleReply
from bot.console.world import CHANNELS, GUILD_ID, ROLES
from bot.core.messages import Incoming
from bot.core.posting import ChannelTarget
from bot.moderation.cases import CaseBook
from bot.moderation.store import RuleStore
from tests.bot.test_adapters import FIRST_NOTE, bot_runtime, console_lines  # noqa: F401 (fixture)

SLUR = "f4gg0t"  # a default banned word, written with leetspeak


async def archived(rt, user_id):
    await rt.services.writer.flush()
    rows = await rt.services.db.fetchall("SELECT content FROM messages WHERE author_id = ?",
                                         (user_id,))
    return [r[0] for r in rows]


async def test_a_banned_word_is_deleted_warned_logged_and_never_answered(bot_runtime):  # noqa: F811
    rt, console, out = bot_runtime
    await rt.services.guilds.set_guild(GUILD_ID, "modlog_channel_id", CHANNELS["mod-log"])
    await CaseBook(rt.services.db).set_policy(GUILD_ID, dm_members=True)
    lines = await console_lines(console, out, [
        "ana: hello everyone",
        f"ana: @bot you {SLUR}",
        "ana: the linen shirt fits well",
    ])
    assert any(line.startswith("[server] ana's message in #general was deleted: @bot you")
               for line in lines), lines
    assert not any(line.startswith("[bot] ") for line in lines)  # the mention got no answer
    dms = [line for line in lines if line.startswith("[bot → ana (DM)]")]
    assert len(dms) == 1 and "You were warned" in dms[0]  # one DM, for the heaviest action
    logged = [line for line in lines if line.startswith("[bot → #mod-log]")]
    assert "had a message deleted in #general" in logged[0], logged
    assert "was warned" in logged[1] and logged[2] == "[bot → #mod-log] ┃ Report 1"  # toxicity flags
    cases, _ = await CaseBook(rt.services.db).for_member(GUILD_ID, member_id("ana"))
    assert [c.action for c in cases] == ["warn", "delete"]
    assert all(c.actor_id == BOT_ID and c.rule == "words, toxicity" and c.evidence == f"@bot you {SLUR}"
               for c in cases)
    assert await archived(rt, member_id("ana")) == ["hello everyone", "the linen shirt fits well"]


async def test_moderators_exempt_roles_and_channels_are_spared_unless_included(bot_runtime):  # noqa: F811
    rt, console, out = bot_runtime
    store = RuleStore(rt.services.db)
    await store.change(GUILD_ID, "caps", {"exempt_channels": [CHANNELS["announcements"]]}, by=None)
    shout = "ana: THIS IS THE BEST SALE EVER EVERYONE"
    lines = await console_lines(console, out, [
        "mo: THIS IS THE BEST SALE EVER EVERYONE",       # a moderator
        "#announcements", shout,                        # an exempt channel
        "#general", shout,                              # judged
    ])
    assert [line for line in lines if line.startswith("[server]")] == [
        "[server] ana's message in #general was deleted: THIS IS THE BEST SALE EVER EVERYONE"]
    await store.change(GUILD_ID, "caps", {"include_staff": True,
                                          "exempt_roles": [ROLES["members"]]}, by=None)
    lines = await console_lines(console, out, ["mo: THIS IS THE BEST SALE EVER EVERYONE",
                                               "ana: NEW ARRIVALS ARE IN THE SHOP TODAY"])
    assert [line.split(":")[0] for line in lines if line.startswith("[server]")] == [
        "[server] mo's message in #general was deleted"]


async def test_a_burst_times_the_member_out_once_with_a_case(bot_runtime):  # noqa: F811
    rt, console, out = bot_runtime
    await RuleStore(rt.services.db).change(GUILD_ID, "burst", {"params": {"messages": 3, "seconds": 60}},
                                           by=None)
    lines = await console_lines(console, out, [f"bo: message number {i}" for i in range(5)])
    assert lines == ["[server] bo is timed out for 5 minutes: automod burst: 3 messages in 60 s",
                     "[server] bo is timed out and cannot post",
                     "[server] bo is timed out and cannot post"]
    cases, _ = await CaseBook(rt.services.db).for_member(GUILD_ID, member_id("bo"))
    assert [(c.action, c.duration_s, c.rule) for c in cases] == [("timeout", 300, "burst")]


async def test_a_new_account_link_and_an_action_the_bot_cannot_take_reach_the_mod_log(bot_runtime):  # noqa: F811
    rt, console, out = bot_runtime
    await rt.services.guilds.set_guild(GUILD_ID, "modlog_channel_id", CHANNELS["mod-log"])
    await RuleStore(rt.services.db).change(GUILD_ID, "new_accounts", {"enabled": True}, by=None)

    async def no_permissions(guild_id):
        return frozenset()

    console.members.bot_permissions = no_permissions
    now = int(time.time() * 1000)
    reply = ConsoleReply("general", lambda: 0)
    for age_h, message_id in ((2, 901), (48, 902)):
        await rt.pipeline.on_message(Incoming(
            message_id=message_id, guild_id=GUILD_ID, channel_id=CHANNELS["general"],
            channel_name="general", author_id=member_id("cy"), author_name="cy",
            content="look at my fit https://example.org/photo", created_at=now,
            author_created_at=now - age_h * 3_600_000), reply)
    logged = [line for line in out.getvalue().splitlines()  # the young account only: a
              if not FIRST_NOTE.match(line)]                 # report, and the failure
    assert logged[0] == "[bot → #mod-log] ┃ Report 1" and "┃ Reported by: automod" in logged
    assert sum(line.startswith("[bot → #mod-log]") for line in logged) == 2, logged
    assert logged[-1].startswith("[bot → #mod-log] Automod could not act on")
    assert "delete: I need the Manage Messages permission" in logged[-1]
    assert (await CaseBook(rt.services.db).for_member(GUILD_ID, member_id("cy")))[1] == 0


async def test_an_edit_that_adds_a_banned_word_is_judged_again(bot_runtime):  # noqa: F811
    rt, console, out = bot_runtime
    await console_lines(console, out, ["ana: love this jacket"])
    (posted,) = [p for p in await console.poster.history(
        ChannelTarget(GUILD_ID, CHANNELS["general"])) if p.author_id == member_id("ana")]
    edited = Incoming(message_id=posted.message_id, guild_id=GUILD_ID, channel_id=CHANNELS["general"],
                      channel_name="general", author_id=member_id("ana"), author_name="ana",
                      content=f"love this jacket, {SLUR}", created_at=posted.created_at)
    await rt.pipeline.on_edit(posted.message_id, edited.content, posted.created_at + 5, edited)
    assert any(line.startswith("[server] ana's message in #general was deleted: love this jacket")
               for line in out.getvalue().splitlines())
    cases, _ = await CaseBook(rt.services.db).for_member(GUILD_ID, member_id("ana"))
    assert "delete" in [c.action for c in cases] and cases[0].evidence == edited.content
    assert await archived(rt, member_id("ana")) == []
    await rt.pipeline.on_edit(posted.message_id, "fine", posted.created_at + 9)  # no author: archive only
