"""Discussion topics: themes from what members said, questions checked against it, the
draft through the approval flow, and the weekly draft into the mod log."""

import asyncio

from bot.announce.topics import questions, themes
from bot.console.world import CHANNELS, GUILD_ID
from bot.store import ArchivedMessage
from tests.bot.features.test_announcements import posted, shop  # noqa: F401 (fixture)
from tests.bot.test_adapters import console_lines

CHAT = ["ana: the linen shirt wrinkles so fast, any tips?",
        "bo: I steam my linen after every wash",
        "cy: when is the restock of the wool socks?",
        "ana: hoping the restock comes before winter",
        "bo: linen is perfect for summer though",
        "cy: thanks everyone, really helpful"]


def test_themes_are_what_several_members_keep_saying_rarest_first():
    messages = [ArchivedMessage(i, 1, 11, author, text, i)
                for i, (author, text) in enumerate([(1, "Linen shirts wrinkle"), (2, "my linen too"),
                                                    (3, "the restock is late"), (1, "restock when?"),
                                                    (2, "really really nice"), (3, "really")])]
    found = themes(messages)
    assert set(found[:2]) == {"linen", "restock"} and "really" not in found
    assert questions("1. What do you love about linen?\nSure! Here you go\n- Why?") == [
        "What do you love about linen?"]  # not a question, or too short: dropped


async def test_topics_are_drafted_from_the_channel_approved_and_posted(shop):  # noqa: F811
    rt, console, out, model = shop
    model.answers += ["1. How do you keep linen from wrinkling?\n"
                      "2. Would a $20 linen care kit help?\n"      # a price nobody said
                      "3. What should we restock first?"]
    lines = await console_lines(console, out, [*CHAT, "mo: /topic", "mo: !press 1"])
    draft = lines.index("[bot → mo] From what members said about: restock, linen.")
    assert lines[draft + 1] == "┃ Draft 1: discussion announcement"
    assert "┃ • How do you keep linen from wrinkling?" in lines
    assert not any("$20" in line for line in lines)
    assert await posted(out, "[bot → #general] Let's talk! A few questions for this week:")


async def test_a_weekly_topic_draft_goes_to_the_mod_log_once_a_week(shop):  # noqa: F811
    rt, console, out, model = shop
    model.answers += ["What is your favourite linen piece?"]
    await rt.services.guilds.set_guild(GUILD_ID, "modlog_channel_id", CHANNELS["mod-log"])
    lines = await console_lines(console, out, [*CHAT, "mo: /schedule topics #general mon 10:00"])
    assert lines[-1].startswith("[bot → mo] Every week I'll draft topics for #general")
    await rt.services.db.write("UPDATE topic_schedules SET next_at = 0")
    (job,) = [j for f in rt.features.features if f.name == "topics" for j in f.jobs]
    task = asyncio.create_task(job.run())
    assert await posted(out, "[bot → #mod-log] Weekly topics: From what members said about")
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert "┃ • What is your favourite linen piece?" in out.getvalue()
    next_at = (await rt.services.db.fetchone("SELECT next_at FROM topic_schedules"))[0]
    assert next_at > 0  # moved on to next Monday before drafting
    lines = await console_lines(console, out, ["mo: /schedule topics-stop", "mo: /schedule topics-stop"])
    assert lines == ["[bot → mo] The weekly topic draft is off.",
                     "[bot → mo] There is no weekly topic draft."]
