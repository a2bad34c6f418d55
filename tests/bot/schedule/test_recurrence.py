"""Recurrences keep the guild's local wall time across daylight-saving changes."""

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bot.schedule.recurrence import Recurrence, RecurrenceError, next_after

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def occurrences(first, rule, tz, n):
    out, after = [], first
    out.append(first)
    for _ in range(n - 1):
        after = next_after(first, Recurrence.parse(rule), after, tz)
        out.append(after)
    return out


def test_a_daily_0900_stays_at_0900_local_across_both_changes():
    first = datetime(2026, 3, 27, 9, 0, tzinfo=BERLIN).astimezone(timezone.utc)
    days = occurrences(first, "daily", BERLIN, 4)
    assert [d.astimezone(BERLIN).strftime("%m-%d %H:%M") for d in days] == [
        "03-27 09:00", "03-28 09:00", "03-29 09:00", "03-30 09:00"]
    assert [d.hour for d in days] == [8, 8, 7, 7]  # UTC moves by the hour the clocks did
    autumn = datetime(2026, 10, 24, 9, 0, tzinfo=BERLIN).astimezone(timezone.utc)
    assert [d.hour for d in occurrences(autumn, "daily", BERLIN, 3)] == [7, 8, 8]


def test_a_skipped_local_time_posts_an_hour_later_and_a_repeated_one_once():
    first = datetime(2026, 3, 7, 2, 30, tzinfo=NEW_YORK).astimezone(timezone.utc)
    spring = occurrences(first, "daily", NEW_YORK, 3)[1]  # 2026-03-08 02:30 does not exist
    assert spring.astimezone(NEW_YORK).strftime("%d %H:%M") == "08 03:30"
    first = datetime(2026, 10, 31, 1, 30, tzinfo=NEW_YORK).astimezone(timezone.utc)
    days = occurrences(first, "daily", NEW_YORK, 3)  # 01:30 happens twice on 11-01
    assert [d.astimezone(NEW_YORK).strftime("%d %H:%M") for d in days] == [
        "31 01:30", "01 01:30", "02 01:30"]
    assert (days[2] - days[1]).total_seconds() == 25 * 3600


def test_weekly_days_and_monthly_on_a_day_some_months_lack():
    first = datetime(2026, 12, 3, 18, 0, tzinfo=timezone.utc)  # a Thursday
    weekly = occurrences(first, "weekly:mon,thu", timezone.utc, 4)
    assert [d.strftime("%a %d") for d in weekly] == ["Thu 03", "Mon 07", "Thu 10", "Mon 14"]
    plain = occurrences(first, "weekly", timezone.utc, 2)
    assert plain[1].strftime("%a %d") == "Thu 10"
    jan31 = datetime(2027, 1, 31, 10, 0, tzinfo=timezone.utc)
    assert [d.strftime("%m-%d") for d in occurrences(jan31, "monthly", timezone.utc, 3)] == [
        "01-31", "02-28", "03-31"]


def test_an_occurrence_long_after_the_first_is_found_from_a_late_start():
    first = datetime(2026, 1, 1, 9, 0, tzinfo=timezone.utc)
    after = datetime(2026, 7, 15, 12, 0, tzinfo=timezone.utc)
    assert next_after(first, Recurrence.parse("daily"), after, timezone.utc) == datetime(
        2026, 7, 16, 9, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text", ["hourly", "weekly:funday", "daily:mon", ""])
def test_a_bad_recurrence_is_refused_with_what_is_expected(text):
    with pytest.raises(RecurrenceError):
        Recurrence.parse(text)
    assert Recurrence.parse("Weekly: Mon, Thursday").text == "weekly:mon,thu"
