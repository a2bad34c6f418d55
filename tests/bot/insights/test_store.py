"""Profile aggregation: sentiment per local day, the products messages name, who is active,
the follow-up list's numbering and compare-and-set resolve, and a member's export and
deletion."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from bot.insights.store import InsightsStore, Label
from bot.kb import KnowledgeBase
from bot.kb.entries import Entry
from bot.store import Archive, ArchivedMessage

BERLIN = ZoneInfo("Europe/Berlin")
DAY0 = datetime(2026, 3, 2, tzinfo=BERLIN)  # a Monday


def ms(dt):
    return int(dt.timestamp() * 1000)


async def seed(db, rows):
    """rows: (message id, author, name, local datetime, text)."""
    await Archive(db).add_many([ArchivedMessage(mid, 1, 11, author, text, ms(when), author_name=name)
                                for mid, author, name, when, text in rows])


async def test_days_are_the_guilds_local_days_and_empty_days_are_zero(db):
    store = InsightsStore(db)
    late = datetime(2026, 3, 2, 23, 30, tzinfo=BERLIN)  # 22:30 UTC: still Monday in Berlin
    await seed(db, [(1, 42, "ana", late, "love it"),
                    (2, 43, "bo", late + timedelta(hours=1), "it broke"),   # Tuesday 00:30
                    (3, 43, "bo", late + timedelta(hours=2), "still broken")])
    await store.save([Label(1, "positive", 0.8, "praise"), Label(2, "negative", -0.6, "complaint"),
                      Label(3, "negative", -1.0, "complaint")])
    # a label of text the message no longer holds (edited while it was classified) is dropped
    assert await store.save([Label(1, "negative", -1.0, "complaint")], ["what it said before"]) == set()
    assert await store.label(1) == ("positive", 0.8, "praise")
    days = await store.days(1, DAY0, DAY0 + timedelta(days=3), BERLIN)
    assert [(d.day.isoformat(), d.negative, d.neutral, d.positive) for d in days] == [
        ("2026-03-02", 0, 0, 1), ("2026-03-03", 2, 0, 0), ("2026-03-04", 0, 0, 0)]
    assert round(days[1].mean, 3) == -0.8 and days[2].mean == 0.0
    # in UTC the days split elsewhere: 22:30 and 23:30 on Monday, 00:30 on Tuesday
    monday = datetime(2026, 3, 2, tzinfo=timezone.utc)
    utc = await store.days(1, monday, monday + timedelta(days=2), timezone.utc)
    assert [d.count for d in utc] == [2, 1]
    mine = await store.days(1, DAY0, DAY0 + timedelta(days=3), BERLIN, user_id=42)
    assert sum(d.count for d in mine) == 1


async def test_products_active_members_and_a_profile(db):
    kb, store = KnowledgeBase(db), InsightsStore(db)
    await kb.put(1, Entry("product", "HARB-1", "Harbour linen shirt", "A relaxed linen shirt."), "t")
    await kb.put(1, Entry("product", "RIDGE-1", "Ridge merino crew", "A warm crew."), "t")
    harbour, ridge = [r[0] for r in await db.fetchall("SELECT id FROM kb_entries ORDER BY key")]
    at = DAY0 + timedelta(hours=10)
    await seed(db, [(1, 42, "ana", at, "the Harbour shirt is lovely"),
                    (2, 43, "bo", at, "my Harbour shirt ripped"),
                    (3, 43, "bo", at, "and the Ridge crew itches"),
                    (4, 43, "bo", at, "does anyone know when you restock?"),
                    (5, 44, "cy", at, "hi all")])
    await store.save([Label(1, "positive", 0.9, "praise", (harbour,)),
                      Label(2, "negative", -0.9, "complaint", (harbour,)),
                      Label(3, "negative", -0.5, "complaint", (ridge, 999_999)),  # gone: skipped
                      Label(4, "neutral", 0.0, "question"),
                      Label(99, "neutral", 0.0, "other")])  # never archived: skipped
    top = await store.products(1, ms(DAY0))
    assert [(t, dict(c)) for t, c in top] == [
        ("Harbour linen shirt", {"positive": 1, "negative": 1}), ("Ridge merino crew", {"negative": 1})]
    assert await store.active(1, ms(DAY0)) == [("bo", 3), ("ana", 1), ("cy", 1)]
    added = await store.add_followup(1, 2, 11, 43, "bo", "my Harbour shirt ripped", ms(at))
    profile = await store.profile(1, 43, DAY0, DAY0 + timedelta(days=1), BERLIN)
    assert profile.name == "bo" and profile.messages == 3
    assert profile.products == [("Harbour linen shirt", 1), ("Ridge merino crew", 1)]
    assert [f.number for f in profile.complaints] == [added.number]
    assert round(profile.mood, 3) == round((-0.9 - 0.5 + 0.0) / 3, 3)
    assert [q for _, q in profile.questions] == []  # asked on DAY0: older than a week now


async def test_followups_are_numbered_once_per_message_and_resolved_once(db):
    store = InsightsStore(db)
    await seed(db, [(m, 42, "ana", DAY0, "x") for m in (500, 501, 502)])
    assert await store.add_followup(1, 499, 11, 42, "ana", "erased", 1000) is None  # no message
    first = await store.add_followup(1, 500, 11, 42, "ana", "it never came", 1000)
    assert await store.add_followup(1, 500, 11, 42, "ana", "it never came", 1000) is None
    second = await store.add_followup(1, 501, 11, 43, "bo", "wrong size", 2000)
    other_guild = await store.add_followup(2, 502, 21, 43, "bo", "late", 3000)
    assert (first.number, second.number, other_guild.number) == (1, 2, 1)
    assert [f.number for f in await store.followups(1)] == [1, 2]
    assert await store.resolve(1, 1, 7, "refunded") == "resolved"
    assert await store.resolve(1, 1, 8, "again") == "already"
    assert await store.resolve(1, 9, 7, "?") == "missing"
    assert (await store.followup(1, 1)).resolution == "refunded"
    assert [f.number for f in await store.followups(1)] == [2] and await store.open_count(1) == 1


async def test_a_members_labels_and_followups_are_exported_and_deleted(db):
    store = InsightsStore(db)
    await seed(db, [(1, 42, "ana", DAY0, "it broke"), (2, 43, "bo", DAY0, "mine too")])
    await store.save([Label(1, "negative", -0.7, "complaint"), Label(2, "negative", -0.7, "complaint")])
    await store.add_followup(1, 1, 11, 42, "ana", "it broke", ms(DAY0))
    await store.add_followup(1, 2, 11, 43, "bo", "mine too", ms(DAY0))
    await store.resolve(1, 2, 42, "ana fixed it")  # ana, a moderator here, resolved bo's
    data = await store.export(1, 42)
    assert [r["message_id"] for r in data["message_labels"]] == ["1"]
    assert [f["content"] for f in data["followups"]] == ["it broke"]
    assert await store.delete(1, 42) == 3  # her label, her follow-up, her name on bo's
    assert (await store.export(1, 42)) == {"message_labels": [], "followups": []}
    bo = await store.followup(1, 2)
    assert bo is not None and bo.resolution == "ana fixed it"
    assert (await db.fetchone("SELECT resolved_by FROM followups WHERE number = 2"))[0] is None
