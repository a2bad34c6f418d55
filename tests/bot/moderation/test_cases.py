"""Cases: numbering under concurrent actions, required reasons, notes, closing, warning
expiry and escalation over (fake) time, and what a deletion request keeps."""

import asyncio

import pytest

from bot.moderation.cases import DAY_MS, ESCALATION, CaseBook, CaseError

GUILD, MEMBER, MOD, BOT = 1, 42, 7, 2


class Clock:
    def __init__(self):
        self.now = 1_700_000_000.0

    def __call__(self):
        return self.now

    def days(self, n):
        self.now += n * 86_400


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def book(db, clock):
    return CaseBook(db, clock)


async def test_a_case_records_who_why_the_evidence_and_when(book, clock):
    case = await book.open(GUILD, "timeout", MEMBER, MOD, "  spamming   links ", evidence="buy now",
                           attachments=["a.png"], channel_id=10, message_id=11, duration_s=600)
    assert (case.number, case.action, case.user_id, case.actor_id) == (1, "timeout", MEMBER, MOD)
    assert case.reason == "spamming links" and case.evidence == "buy now"
    assert case.attachments == ("a.png",) and case.duration_s == 600
    assert case.created_at == int(clock.now * 1000) and case.expires_at is None  # not a warning


@pytest.mark.parametrize("kwargs, error", [
    ({"reason": "   "}, "a reason is required"),
    ({"reason": "x" * 1001}, "at most 1000"),
    ({"action": "smite"}, "unknown action 'smite'"),
    ({"duration_s": 0}, "a duration must be positive"),
])
async def test_a_case_without_a_usable_reason_or_action_is_refused(book, db, kwargs, error):
    args = {"action": "warn", "reason": "ok"} | kwargs
    with pytest.raises(CaseError, match=error):
        await book.open(GUILD, args.pop("action"), MEMBER, MOD, args.pop("reason"), **args)
    assert (await db.fetchone("SELECT COUNT(*) FROM mod_cases"))[0] == 0


async def test_concurrent_actions_never_share_a_number_and_guilds_count_apart(book):
    cases = await asyncio.gather(*(book.open(GUILD, "warn", MEMBER + i, MOD, f"r{i}") for i in range(25)))
    assert sorted(c.number for c in cases) == list(range(1, 26))
    assert (await book.open(2, "ban", MEMBER, MOD, "other guild")).number == 1


async def test_notes_reasons_closing_and_pages(book):
    for i in range(7):
        await book.open(GUILD, "warn", MEMBER, MOD, f"reason {i}")
    assert await book.add_note(GUILD, 3, MOD, "talked to them") == 1
    assert await book.add_note(GUILD, 3, MOD, "they apologised") == 2
    case = await book.get(GUILD, 3)
    assert [n[1] for n in await book.notes(case.id)] == ["talked to them", "they apologised"]
    assert (await book.set_reason(GUILD, 3, "the real reason")).reason == "the real reason"
    closed = await book.close(GUILD, 3, MOD)
    assert closed.closed_by == MOD
    with pytest.raises(CaseError, match="already closed"):
        await book.close(GUILD, 3, MOD)
    with pytest.raises(CaseError, match="there is no case 99"):
        await book.add_note(GUILD, 99, MOD, "x")
    page, total = await book.for_member(GUILD, MEMBER, page=2, per_page=5)
    assert total == 7 and [c.number for c in page] == [2, 1]


async def test_warnings_expire_and_three_in_a_week_escalate_once(book, clock):
    await book.set_policy(GUILD, warn_expiry_days=30, escalate_after=3, escalate_window_days=7,
                          escalate_timeout_minutes=60)
    await book.open(GUILD, "warn", MEMBER, MOD, "one")
    clock.days(3)
    await book.open(GUILD, "warn", MEMBER, MOD, "two")
    assert await book.escalation(GUILD, MEMBER) is None
    clock.days(5)  # the first is now outside the 7-day window
    await book.open(GUILD, "warn", MEMBER, MOD, "three")
    assert len(await book.active_warnings(GUILD, MEMBER)) == 2
    assert await book.escalation(GUILD, MEMBER) is None
    clock.days(1)
    await book.open(GUILD, "warn", MEMBER, MOD, "four")
    due = await book.escalation(GUILD, MEMBER)
    assert due is not None and (due.minutes, due.warnings) == (60, 3)
    await book.open(GUILD, "timeout", MEMBER, BOT, "3 warnings in 7 days", rule=ESCALATION,
                    duration_s=3600)
    assert await book.escalation(GUILD, MEMBER) is None  # given once for these warnings


async def test_a_closed_or_expired_warning_stops_counting(book, clock):
    await book.set_policy(GUILD, warn_expiry_days=2, escalate_after=2, escalate_window_days=30)
    first = await book.open(GUILD, "warn", MEMBER, MOD, "one")
    assert first.expires_at == first.created_at + 2 * DAY_MS
    clock.days(3)
    await book.open(GUILD, "warn", MEMBER, MOD, "two")
    assert [c.reason for c in await book.active_warnings(GUILD, MEMBER)] == ["two"]
    await book.open(GUILD, "warn", MEMBER, MOD, "three")
    await book.close(GUILD, 3, MOD)
    assert await book.escalation(GUILD, MEMBER) is None
    with pytest.raises(CaseError, match="escalate_after: a whole number from 0 to 100"):
        await book.set_policy(GUILD, escalate_after=-1)


async def test_a_deletion_request_keeps_the_case_without_its_evidence(book):
    await book.open(GUILD, "delete", MEMBER, BOT, "banned word", evidence="the words", attachments=["x.png"])
    await book.open(GUILD, "warn", 99, MEMBER, "as a moderator")  # the member also moderated
    await book.add_note(GUILD, 2, MEMBER, "noted by them")
    await book.close(GUILD, 2, MEMBER)
    exported = await book.export(GUILD, MEMBER)
    assert [c["evidence"] for c in exported["cases_about_you"]] == ["the words"]
    assert [n["text"] for n in exported["case_notes_you_wrote"]] == ["noted by them"]
    assert await book.forget(GUILD, MEMBER) == 3
    kept = await book.get(GUILD, 1)
    assert kept.reason == "banned word" and kept.evidence is None and kept.attachments == ()
    assert (await book.get(GUILD, 2)).closed_by is None
    assert (await book.notes((await book.get(GUILD, 2)).id))[0][0] is None
