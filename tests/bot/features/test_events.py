"""Event plans through the console: the model's proposal, approval creating the guild
event and its reminders, and the reminders following a move or a cancellation, from a
command or from Discord's gateway."""

from datetime import datetime, timedelta, timezone
from unittest.mock import MagicMock

import discord

from bot.announce.events import parse
from bot.console.world import CHANNELS, GUILD_ID
from bot.discord_app.cogs.events import EventsCog
from tests.bot.features.test_announcements import shop  # noqa: F401 (fixture)
from tests.bot.test_adapters import console_lines

PLAN = ("Title: Knitting night\nDescription: An evening of knitting together. Bring your "
        "yarn.\nAgenda:\n- Welcome\n- Knit along\nIdeas:\n- Share a photo of your project")


def test_a_proposal_is_read_from_its_labels_and_needs_a_title_and_description():
    p = parse("**Title:** Knit night\nDescription: Cosy.\nAgenda:\n* one\n- two\nEngagement ideas: vote")
    assert (p.title, p.description, p.agenda, p.ideas) == ("Knit night", "Cosy.", "- one\n- two", "- vote")
    assert parse("Knit night is great fun") is None


async def reminders(rt):
    rows = await rt.services.db.fetchall(
        "SELECT due_at, state FROM scheduled_posts WHERE kind = 'reminder' ORDER BY id")
    return [tuple(r) for r in rows]


async def test_approving_a_plan_creates_the_event_and_reminders_that_follow_it(shop):  # noqa: F811
    rt, console, out, model = shop
    model.answers += [PLAN.replace("evening", "evening with 250 prizes"), PLAN]  # one retry; 250 is in no date or time
    start = (datetime.now(timezone.utc) + timedelta(days=3)).replace(second=0, microsecond=0)
    when = start.strftime("%Y-%m-%d %H:%M")
    end = (start + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M")
    lines = await console_lines(console, out, [
        f'mo: /event plan theme="Knitting night" goal="Members meet and knit" start="{when}" '
        f'end="{end}" channel=#announcements location="Shop floor"',
        "mo: !press 1",
    ])
    assert lines[0] == "[bot → mo] ┃ Event plan 1: Knitting night"
    assert "┃ Agenda: - Welcome" in lines and "┃ Engagement ideas: - Share a photo of your project" in lines
    assert "prizes" not in "\n".join(lines)  # the first proposal invented a number
    assert any(line.startswith("[bot → events] Knitting night at ") for line in lines)
    assert any("the event is created, with 2 reminders" in line for line in lines)
    (event,) = console.poster.events
    assert event.location == "Shop floor" and event.start == start
    assert "Agenda:\n- Welcome" in event.description
    start_ms = int(start.timestamp() * 1000)
    assert await reminders(rt) == [(start_ms - 24 * 3_600_000, "scheduled"),
                                   (start_ms - 3_600_000, "scheduled")]

    later = start + timedelta(days=1)
    lines = await console_lines(console, out, [
        f'mo: /event move 1 start="{later.strftime("%Y-%m-%d %H:%M")}"', "mo: /event cancel 1"])
    assert lines[0].startswith("[bot → events] event ") and "moved to" in lines[0]
    assert "its reminders moved with it" in lines[1]
    later_ms = int(later.timestamp() * 1000)
    assert await reminders(rt) == [
        (start_ms - 24 * 3_600_000, "cancelled"), (start_ms - 3_600_000, "cancelled"),
        (later_ms - 24 * 3_600_000, "cancelled"), (later_ms - 3_600_000, "cancelled")]
    assert lines[-1] == "[bot → mo] The event and its reminders are cancelled."


async def test_a_move_on_discord_reschedules_the_reminders(shop):  # noqa: F811
    rt, console, out, model = shop
    model.answers += [PLAN]
    start = (datetime.now(timezone.utc) + timedelta(days=2)).replace(second=0, microsecond=0)
    await console_lines(console, out, [
        f'mo: /event plan theme="Knitting night" goal="Members meet" '
        f'start="{start:%Y-%m-%d %H:%M}" end="{start + timedelta(hours=1):%Y-%m-%d %H:%M}" '
        'channel=#announcements location="Online"', "mo: !press 1"])
    event_id = (await rt.services.db.fetchone("SELECT event_id FROM event_plans"))[0]
    cog = EventsCog(MagicMock(spec_set=discord.Client), rt.pipeline, rt.features, ping_author=False)

    def event(at, status=discord.EventStatus.scheduled):
        fake = MagicMock(spec_set=discord.ScheduledEvent)
        fake.id, fake.guild_id, fake.start_time, fake.status = event_id, GUILD_ID, at, status
        fake.end_time = at + timedelta(hours=1)
        return fake

    soon = (datetime.now(timezone.utc) + timedelta(hours=3)).replace(microsecond=0)  # only the 1-hour reminder is ahead
    await cog.on_scheduled_event_update(event(start), event(soon))
    soon_ms = int(soon.timestamp() * 1000)
    assert [r for r in await reminders(rt) if r[1] == "scheduled"] == [(soon_ms - 3_600_000, "scheduled")]
    await cog.on_scheduled_event_delete(event(soon))
    assert all(state == "cancelled" for _, state in await reminders(rt))
    assert (await rt.services.db.fetchone("SELECT status FROM event_plans"))[0] == "cancelled"
    assert CHANNELS["announcements"] == (await rt.services.db.fetchone(
        "SELECT DISTINCT channel_id FROM scheduled_posts"))[0]


async def test_a_move_made_here_is_followed_once_when_discord_echoes_it(shop):  # noqa: F811
    rt, console, out, model = shop
    model.answers += [PLAN]
    start = (datetime.now(timezone.utc) + timedelta(days=3)).replace(second=0, microsecond=0)
    later = start + timedelta(days=1)
    await console_lines(console, out, [
        f'mo: /event plan theme="Knitting night" goal="Members meet" start="{start:%Y-%m-%d %H:%M}" '
        f'end="{start + timedelta(hours=1):%Y-%m-%d %H:%M}" channel=#announcements location="Online"',
        "mo: !press 1", f'mo: /event move 1 start="{later:%Y-%m-%d %H:%M}"', "mo: /event cancel 1"])
    event_id = (await rt.services.db.fetchone("SELECT event_id FROM event_plans"))[0]
    await rt.features.guild_event(GUILD_ID, event_id, later, later + timedelta(hours=1), False)
    await rt.features.guild_event(GUILD_ID, event_id, None, None, True)  # Discord's echoes
    states = [state for _, state in await reminders(rt)]
    assert states == ["cancelled"] * 4  # two for each time, never scheduled twice
    assert "Sorry" not in out.getvalue()
