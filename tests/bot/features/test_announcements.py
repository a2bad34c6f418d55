"""Announcements through the console: the model drafts from the brief (checked against
it), moderators approve with buttons, the scheduler posts it; /schedule manages the rest."""

import asyncio
import io
import time

from bot.console import BOT_ID, Console
from bot.console.world import ROLES
from bot.runtime import start
from tests.bot.harness import ScriptedClassifier, ScriptedModel, settings
from tests.bot.test_adapters import console_lines

import pytest_asyncio

BRIEF = "Winter sale: 20% off all knitwear until Sunday"


@pytest_asyncio.fixture
async def shop(tmp_path, db):
    out = io.StringIO()
    model = ScriptedModel()
    console = Console(mods=frozenset({"mo"}), out=out, files_dir=tmp_path / "console")
    rt = await start(settings(DATA_DIR=str(tmp_path)), db, model, console.poster,
                     bot_user_id=BOT_ID, bot_name="bot", members=console.members,
                     classifier=ScriptedClassifier())
    console.attach(rt)
    yield rt, console, out, model
    rt.pipeline.close()
    await rt.features.stop()
    await rt.jobs.close()
    await rt.services.writer.close()


async def posted(out, text, seconds=5.0):
    """Wait for the scheduler's post (it runs as a background job)."""
    for _ in range(int(seconds / 0.02)):
        if text in out.getvalue():
            return True
        await asyncio.sleep(0.02)
    return False


async def test_a_draft_is_checked_against_the_brief_approved_and_posted_once(shop):
    rt, console, out, model = shop
    model.answers += ["Everything is 50% off this weekend!",          # a fact not in the brief
                      "Our winter sale is here: 20% off all knitwear until Sunday!",
                      "Knitwear is 20% off until Sunday. Come and see!"]
    lines = await console_lines(console, out, [
        f'mo: /announce draft what="{BRIEF}" kind=sale channel=#announcements',
        "ana: !press 1",
        "mo: !press 3",
        "mo: !press 1",
        "mo: !press 4",
    ])
    assert lines[:2] == ["[bot → mo] ┃ Draft 1: sale announcement",
                         "┃ Our winter sale is here: 20% off all knitwear until Sunday!"]
    assert "use only the brief" in model.requests[1].messages[-1][1]  # told why, once
    assert ("[1] Approve  [2] Edit  [3] Regenerate  [4] Discard   (press with: name: !press N)"
            in lines)
    assert ("[bot → ana] You need the Timeout Members or Manage Server permission to use this "
            "button.") in lines
    assert "┃ Knitwear is 20% off until Sunday. Come and see!" in lines  # regenerated
    assert any(line.startswith("┃ Approved by <@") and "scheduled post 1, as soon as it is approved"
               in line for line in lines), lines
    assert "[bot → mo] Draft 1 was already approved; nothing changed." in lines
    assert await posted(out, "[bot → #announcements] Knitwear is 20% off until Sunday. Come and see!")
    await asyncio.sleep(0.1)
    assert out.getvalue().count("[bot → #announcements]") == 1
    row = await rt.services.db.fetchone("SELECT state, sent_count FROM scheduled_posts")
    assert tuple(row) == ("done", 1)


async def test_a_scheduled_repeating_post_with_a_chosen_role_is_managed_with_schedule(shop):
    rt, console, out, model = shop
    model.answers += ["Join our knitting circle every Monday and Thursday!"]
    await rt.services.guilds.set_timezone(1, "Europe/Berlin")
    lines = await console_lines(console, out, [
        'mo: /announce draft what="Knitting circle every Monday and Thursday" kind=event '
        'channel=#announcements when="2030-01-07 18:00" repeat=weekly days=mon,thu ping=@members',
        "mo: !press 1",
        "mo: /schedule list",
        "mo: /schedule pause 1",
        "mo: /schedule edit 1 text=\"Knitting circle: bring your own yarn\"",
        "mo: /schedule resume 1",
        "mo: /schedule cancel 1",
        "mo: /schedule list",
        "mo: /schedule resume 1",
    ])
    first = 1894035600  # 2030-01-07 18:00 in Berlin (17:00 UTC)
    assert f"┃ When: <t:{first}:f>" in lines and "┃ Repeats: every Monday, Thursday" in lines
    assert f"┃ Pings: <@\u200b&{ROLES['members']}>" in lines
    listing = lines[lines.index("[bot → mo] Scheduled:") + 1]
    assert listing.startswith(f"#1 #announcements <t:{first}:f>, every Monday, Thursday:")
    assert any(line.startswith("[bot → mo] Post 1 is paused.") for line in lines)
    assert any("Saved. #1" in line and "bring your own yarn" in line for line in lines)
    assert lines[-2:] == ["[bot → mo] Nothing is scheduled.",
                          "[bot → mo] Nothing changed: post 1 is cancelled; it cannot be made scheduled."]
    row = await rt.services.db.fetchone("SELECT ping_role_id, tz, recurrence FROM scheduled_posts")
    assert tuple(row) == (ROLES["members"], "Europe/Berlin", "weekly:mon,thu")


async def test_bad_times_are_refused_before_the_model_writes(shop):
    rt, console, out, model = shop
    lines = await console_lines(console, out, [
        f'mo: /announce draft what="{BRIEF}" kind=sale channel=#general when="2001-01-01 10:00"',
        f'mo: /announce draft what="{BRIEF}" kind=sale channel=#general repeat=daily',
        f'mo: /announce draft what="{BRIEF}" kind=sale channel=#general when="2030-01-01 10:00" '
        'repeat=weekly days=funday',
        f'ana: /announce draft what="{BRIEF}" kind=sale channel=#general',
    ])
    assert lines[:3] == [
        "[bot → mo] when: that time has passed; leave it out to post on approval.",
        "[bot → mo] repeat: a repeating post needs a first time (when=…).",
        "[bot → mo] days: 'weekly:funday': days are mon, tue, wed, thu, fri, sat, sun"]
    assert lines[3].startswith("[bot → ana] You need the Timeout Members")
    assert model.requests == []


async def test_edit_opens_a_form_in_both_adapters_and_approval_works_through_discord(shop, tmp_path):
    import discord

    from bot.discord_app.app import ShopBot
    from bot.discord_app.render import FormModal
    from tests.bot.discord_fakes import fake_interaction, fake_user

    rt, console, out, model = shop
    model.answers += ["Our winter sale is here: 20% off all knitwear until Sunday!"]
    lines = await console_lines(console, out, [
        f'mo: /announce draft what="{BRIEF}" kind=sale channel=#announcements',
        "mo: !press 2",
        'mo: !form text="Knitwear: 20% off until Sunday. See you there!"',
        "mo: !form text=again",
    ])
    form = lines.index("[bot → mo] ┃ Edit draft 1")
    assert lines[form + 1] == ("┃ Announcement (text): Our winter sale is here: 20% off all "
                               "knitwear until Sunday!")
    assert lines[form + 2] == '(fill in with: name: !form text="…")'
    assert "[bot → mo] Edited." in lines and "┃ Knitwear: 20% off until Sunday. See you there!" in lines
    assert lines[-1] == "? no form on screen"

    bot = ShopBot(settings(DATABASE_PATH=str(tmp_path / "unused.db")), tmp_path)
    bot.runtime = rt
    moderator = discord.Permissions(moderate_members=True)
    opened = fake_interaction(fake_user("mo"), 1, permissions=moderator, client=bot)
    await bot.on_component(opened, "announce.edit:1", ())
    opened.response.defer.assert_not_awaited()  # a modal must be the first answer
    (modal,), _ = opened.response.send_modal.await_args
    assert isinstance(modal, FormModal) and modal.children[0].default.startswith("Knitwear: 20%")
    submitted = fake_interaction(fake_user("mo"), 1, permissions=moderator, client=bot)
    await bot.on_form(submitted, "announce.edit:1", {"text": "Knitwear is 20% off until Sunday."})
    embed = submitted.edit_original_response.await_args.kwargs["embeds"][0]
    assert embed.description == "Knitwear is 20% off until Sunday."
    member = fake_interaction(fake_user("ana"), 1, client=bot)
    await bot.on_component(member, "announce:approve:1", ())
    assert "permission" in member.followup.send.await_args.kwargs["content"]
    approved = fake_interaction(fake_user("mo"), 1, permissions=moderator, client=bot)
    await bot.on_component(approved, "announce:approve:1", ())
    approved.response.defer.assert_awaited_once_with()
    footer = approved.edit_original_response.await_args.kwargs["embeds"][0].footer.text
    assert footer.startswith("Approved by <@") and "scheduled post 1" in footer
    assert approved.edit_original_response.await_args.kwargs["view"] is None  # buttons gone
    assert await posted(out, "[bot → #announcements] Knitwear is 20% off until Sunday.")


async def test_a_late_approval_keeps_a_series_time_of_day_and_a_passed_end_is_refused(shop):
    rt, console, out, model = shop
    model.answers += ["Daily tip: knit a row.", "Daily tip: knit two rows."]
    when = "2030-01-07 09:00"
    for _ in range(2):
        await console_lines(console, out, [
            f'mo: /announce draft what="A daily knitting tip" kind=other channel=#general '
            f'when="{when}" repeat=daily until="2030-02-01 10:00"'])
    day = 86_400_000
    await rt.services.db.write(  # as if both were approved days after their first time
        "UPDATE announcement_drafts SET post_at = post_at - 40 * 365 * ?, until_at = CASE id "
        "WHEN 2 THEN post_at - 40 * 365 * ? + 1 ELSE until_at END", (day, day))
    lines = await console_lines(console, out, ["mo: !press 1"])  # the latest preview: draft 2
    assert lines == ["[bot → mo] Nothing was approved: the end is before the first post. "
                     "Draft it again with a new time."]
    draft = await rt.services.db.fetchone("SELECT post_at FROM announcement_drafts WHERE id = 1")
    from bot.console import member_id
    from bot.core.commands import Caller
    from bot.core.replies import Press

    route = rt.features.route("announce")
    await route.handler(Press(Caller(member_id("mo"), "mo", 1, permissions=frozenset({"administrator"})),
                              "announce", "approve:1"))
    first_at, due_at = await rt.services.db.fetchone("SELECT first_at, due_at FROM scheduled_posts")
    assert first_at == draft[0]  # the series is anchored at the time the moderator chose
    assert (due_at - first_at) % day == 0 and due_at > time.time() * 1000  # 09:00, from now on


async def test_a_weekly_series_starts_on_its_first_chosen_day(shop):
    rt, console, out, model = shop
    model.answers += ["Knitting circle on Mondays and Thursdays!"]
    await rt.services.guilds.set_timezone(1, "Europe/Berlin")
    lines = await console_lines(console, out, [  # 2030-01-09 is a Wednesday
        'mo: /announce draft what="Knitting circle" kind=event channel=#announcements '
        'when="2030-01-09 18:00" repeat=weekly days=mon,thu'])
    thursday = 1894035600 + 3 * 86_400  # 2030-01-10 18:00 in Berlin
    assert f"┃ When: <t:{thursday}:f>" in lines
