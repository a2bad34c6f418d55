"""Insights through the console: messages are classified in the background, a complaint goes
on the follow-up list with a card in the mod log until a moderator resolves it, /insights
and /member profile send charts, an upset member gets another tone, and the weekly digest
is posted once."""

import asyncio
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import matplotlib.image

from bot.console.world import member_id
from bot.features.insights import last_digest_time
from bot.insights.store import InsightsStore
from tests.bot.features.test_announcements import shop  # noqa: F401 (fixture)
from tests.bot.test_adapters import console_lines


async def labels(rt, count, seconds=10.0):
    """Wait for the background job to have labelled ``count`` messages."""
    for _ in range(int(seconds / 0.02)):
        rows = await rt.services.db.fetchall(
            "SELECT m.author_name, l.sentiment, l.intent FROM message_labels l "
            "JOIN messages m USING (message_id) ORDER BY message_id")
        if len(rows) >= count:
            return [tuple(r) for r in rows]
        await asyncio.sleep(0.02)
    raise AssertionError(f"only {len(rows)} messages were labelled")


def saved_pngs(lines):
    paths = [Path(m.group(1)) for line in lines if (m := re.search(r"\(file saved: (.+\.png)\)", line))]
    for path in paths:
        assert matplotlib.image.imread(path).shape[1] > 300
    return [p.name.split("-", 2)[-1] for p in paths]


async def test_complaints_are_followed_up_and_the_charts_are_sent(shop):  # noqa: F811
    rt, console, out, model = shop
    await console_lines(console, out, [
        "mo: /mod modlog channel channel=#mod-log",
        "ana: I love my new scarf, thanks everyone",
        "bo: my order never arrived and nobody answers my emails",
        "cy: what time does the live stream start?",
    ])
    assert await labels(rt, 3) == [("ana", "positive", "praise"), ("bo", "negative", "complaint"),
                                   ("cy", "neutral", "question")]
    await asyncio.sleep(0.1)  # the follow-up card follows the label
    text = out.getvalue()
    assert "[bot → #mod-log] ┃ Complaint 1: follow up" in text
    assert "┃ > my order never arrived and nobody answers my emails" in text

    lines = await console_lines(console, out, ["mo: /insights days=7"])
    assert lines[0].startswith("[bot → mo] **Community insights, the last 7 days** (UTC)")
    assert "Messages classified: 3" in lines[1] and "Open complaints: 1" in lines[2]
    assert saved_pngs(lines) == ["sentiment-per-day.png", "products.png", "active-members.png",
                                 "open-complaints.png"]
    lines = await console_lines(console, out, ["mo: /member profile member=@bo"])
    assert lines[0] == "[bot → mo] ┃ Member profile: bo"
    assert any(line.startswith("┃ Open complaints: #1: my order never arrived") for line in lines)
    assert saved_pngs(lines) == ["member-mood.png"]

    lines = await console_lines(console, out, ["ana: /followup list", "mo: /followup list"])
    assert "You need" in lines[0] or "moderator" in lines[0].lower()
    assert lines[1] == "[bot → mo] **Open complaints: 1**, the longest waiting first:"
    lines = await console_lines(console, out, [
        'mo: /followup resolve number=1 note="refund sent"', "mo: /followup resolve number=1",
        "mo: /followup list"])
    assert lines == ["[bot → mo] Complaint 1 is marked resolved.",
                     "[bot → mo] Complaint 1 was already resolved.",
                     "[bot → mo] No open complaints. Nothing waits for a follow-up."]
    followup = await InsightsStore(rt.services.db).followup(1, 1)
    assert followup.resolution == "refund sent" and followup.resolved_by == member_id("mo")


async def test_the_card_button_resolves_and_an_edit_is_classified_again(shop):  # noqa: F811
    rt, console, out, model = shop
    await console_lines(console, out, ["mo: /mod modlog channel channel=#mod-log",
                                       "bo: the strap is broken already"])
    await labels(rt, 1)
    await asyncio.sleep(0.1)
    lines = await console_lines(console, out, ["mo: !press 1"])
    assert f"┃ Resolved: marked resolved by <@\u200b{member_id('mo')}>" in lines  # shown defused
    assert not any("[1] Mark resolved" in line for line in lines)

    message_id = (await rt.services.db.fetchone("SELECT message_id FROM messages"))[0]
    await rt.pipeline.on_edit(message_id, "never mind, I love it", 99)
    assert await labels(rt, 1) == [("bo", "positive", "praise")]


async def test_an_upset_member_gets_an_apology_and_the_offer_of_a_person(shop):  # noqa: F811
    rt, console, out, model = shop
    model.answers += ["Sorry to hear that! Check your tracking link first.", "Glad to help!",
                      "A team member will look at it."]
    lines = await console_lines(console, out, [
        "bo: @bot this is the worst, my parcel never arrived",
        "ana: @bot tell me something nice",
        "bo: @bot ok so what happens next"])  # calm words, but the complaint is still open
    upset, calm, still = (request.messages[0][1] for request in model.requests)
    assert "bo is upset. Begin with a short, sincere apology" in upset
    assert "is upset" not in calm and "bo is upset" in still
    offer = [line for line in lines if "If that doesn't sort it out" in line]
    assert len(offer) == 2 and offer[0].startswith("[bot]")


async def test_a_message_the_classifier_fails_on_is_skipped_and_the_rest_labelled(shop):  # noqa: F811
    rt, console, out, model = shop
    await console_lines(console, out, ["ana: love it", "bo: POISON", "cy: this is awful"])
    assert await labels(rt, 2) == [("ana", "positive", "praise"), ("cy", "negative", "complaint")]
    await console_lines(console, out, ["ana: great stuff"])  # the job goes on
    assert len(await labels(rt, 3)) == 3


def test_the_digest_is_due_on_monday_morning_in_the_guilds_time():
    tz = ZoneInfo("America/New_York")
    sunday_night = datetime(2026, 3, 8, 23, 0, tzinfo=tz)
    assert last_digest_time(sunday_night, tz) == datetime(2026, 3, 2, 9, 0, tzinfo=tz)
    monday = datetime(2026, 3, 9, 9, 0, tzinfo=tz)  # the day after clocks went forward
    assert last_digest_time(monday, tz) == monday
    assert last_digest_time(monday - timedelta(minutes=1), tz) == datetime(2026, 3, 2, 9, 0, tzinfo=tz)


async def test_the_weekly_digest_is_posted_once_per_week(shop):  # noqa: F811
    rt, console, out, model = shop
    await console_lines(console, out, ["mo: /mod modlog channel channel=#mod-log",
                                       "ana: I love the new colours"])
    await labels(rt, 1)
    store = InsightsStore(rt.services.db)
    assert await store.claim_digest(1, 123) and not await store.claim_digest(1, 123)
    from bot.insights import views
    tz = ZoneInfo("UTC")
    monday = datetime.combine(last_digest_time(datetime.now(tz), tz).date(), datetime.min.time(), tz)
    reply = await views.digest(store, 1, tz, monday + timedelta(days=7))
    assert reply.text.startswith("**Weekly digest, ")
    assert "Classified messages: 1" in reply.text and reply.files[0].name == "weekly-sentiment.png"
