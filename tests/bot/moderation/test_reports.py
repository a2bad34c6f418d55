"""The review queue: "Report to moderators", the card's buttons, /mod reports, and the
queue's guarantees (one open report per message, one resolution per report)."""

import asyncio

from bot.console import member_id
from bot.console.world import CHANNELS, GUILD_ID
from bot.moderation.cases import CaseBook
from bot.moderation.reports import ReportError, ReportQueue
from tests.bot.test_adapters import bot_runtime, console_lines  # noqa: F401 (fixture)

import pytest


async def test_members_report_a_message_and_a_moderator_resolves_it_with_a_button(bot_runtime):  # noqa: F811
    rt, console, out = bot_runtime
    await rt.services.guilds.set_guild(GUILD_ID, "modlog_channel_id", CHANNELS["mod-log"])
    lines = await console_lines(console, out, [
        "ana: anyone wanna trade accounts, ask me how",
        "bo: !on @ana Report to moderators",
        "cy: !on @ana report to moderators",
        "bo: !on @ana Report to moderators",
        "ana: !on @ana Report to moderators",
        "bo: !press 2",
        "mo: !press 2",
        "mo: !press 3",
    ])
    thanks = ("[bot → bo] Thanks, moderators will look at it. Nobody but them can see who "
              "reported a message.")
    assert lines[0] == "[bot → #mod-log] ┃ Report 1" and lines.index(thanks) > 0
    assert "┃ Reported by: 1 member" in lines
    assert ("[1] Delete message  [2] Delete and warn  [3] Dismiss   (press with: name: !press N)"
            in lines)
    cards = [line for line in lines if line.startswith("[bot → #mod-log] ┃")]
    assert cards == ["[bot → #mod-log] ┃ Report 1"]  # cy and bo again joined it
    assert "[bot → ana] That's your own message; you can edit or delete it yourself." in lines
    assert ("[bot → bo] You need the Timeout Members or Manage Server permission to use this "
            "button.") in lines
    assert any(line.startswith("[server] ana's message in #general was deleted: anyone wanna trade")
               for line in lines)
    assert "┃ Reported by: 2 members" in lines  # the card after the press
    resolved = [line for line in lines if line.startswith("┃ Resolved:")]
    assert resolved[0].startswith("┃ Resolved: author warned, message deleted by <@") and "(case 2)" in resolved[0]
    assert "┃ Already resolved." in lines  # the second press changed nothing
    cases, _ = await CaseBook(rt.services.db).for_member(GUILD_ID, member_id("ana"))
    assert [(c.action, c.actor_id, c.evidence) for c in cases] == [
        ("warn", member_id("mo"), "anyone wanna trade accounts, ask me how"),
        ("delete", member_id("mo"), "anyone wanna trade accounts, ask me how")]
    assert cases[0].reason == "report 1: reported by a member"


async def test_mod_reports_shows_the_oldest_open_report_and_works_without_a_mod_log(bot_runtime):  # noqa: F811
    rt, console, out = bot_runtime
    lines = await console_lines(console, out, [
        "mo: /mod reports",
        "ana: first thing",
        "bo: second thing",
        "cy: !on @ana Report to moderators",
        "cy: !on @bo Report to moderators",
        "mo: /mod reports",
        "mo: !press 3",
        "mo: /mod reports",
    ])
    assert lines[0] == "[bot → mo] No open reports."
    first = lines.index("[bot → mo] ┃ Report 1")
    assert "┃ The oldest of 2 open reports." in lines[first:]
    assert "┃ Resolved: dismissed by <@\u200b%d>" % member_id("mo") in lines
    assert "┃ 1 open report left (/mod reports)." in lines
    assert "[bot → mo] ┃ Report 2" in lines


async def test_the_queue_numbers_reports_once_and_resolves_each_once(db):
    queue = ReportQueue(db)

    async def report(message_id, reporter):
        return await queue.file(7, source="member", channel_id=5, message_id=message_id,
                                author_id=42, reason="reported by a member", content="x",
                                reporter_id=reporter)

    filed = await asyncio.gather(*(report(100 + i, 1) for i in range(10)))
    assert sorted(r.number for r, new in filed) == list(range(1, 11)) and all(new for _, new in filed)
    again, new = await report(100, 2)
    twice, _ = await report(100, 2)
    assert not new and again.number == filed[0][0].number and twice.reporters == 2
    claims = await asyncio.gather(*(queue.claim(7, 1, by) for by in (8, 9)),
                                  return_exceptions=True)
    assert sum(isinstance(r, ReportError) for r in claims) == 1  # one moderator acts
    winner = next(r for r in claims if not isinstance(r, ReportError)).resolved_by
    with pytest.raises(ReportError, match="not claimed by that moderator"):
        await queue.resolve(7, 1, 17 - winner, "dismissed")
    await queue.resolve(7, 1, winner, "dismissed")
    with pytest.raises(ReportError, match="already resolved"):
        await queue.claim(7, 1, 8)
    with pytest.raises(ReportError, match="no report 99"):
        await queue.claim(7, 99, 8)
    fresh, new = await report(100, 3)  # a resolved report no longer collects new reports
    assert new and fresh.number == 11


async def test_a_deletion_request_keeps_reports_about_a_member_without_their_content(db):
    queue = ReportQueue(db)
    await queue.file(7, source="automod", channel_id=5, message_id=1, author_id=42,
                     reason="automod caps", content="LOUD", attachments=["a.png"])
    await queue.file(7, source="member", channel_id=5, message_id=2, author_id=43,
                     reason="reported by a member", content="rude", reporter_id=42)
    data = await queue.export(7, 42)
    assert [r["content"] for r in data["reports_about_your_messages"]] == ["LOUD"]
    assert data["reports_you_made"] == [{"report": 2, "at": data["reports_you_made"][0]["at"]}]
    assert "reporters" in data["reports_about_your_messages"][0]  # a count, never who
    assert await queue.forget(7, 42) == 2
    kept = await queue.get(7, 1)
    assert kept.content is None and kept.attachments == () and kept.reason == "automod caps"
    assert (await queue.get(7, 2)).reporters == 0
