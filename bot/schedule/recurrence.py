"""When a recurring post comes next, in the guild's own time zone.

A recurrence keeps the *local* wall time: a daily 09:00 post is at 09:00 in Berlin in
winter and in summer, so its UTC time moves by an hour across a daylight-saving change.
Occurrences are computed from the first one's local time with ``zoneinfo``, never by
adding 24 hours to the last UTC time. A local time that does not exist on a day (the hour
skipped in spring) is posted at the same instant the clock would have shown it, one hour
later by the new offset; a time that happens twice (autumn) is posted the first time.

Rules, as stored (``Recurrence.text``): ``daily``, ``weekly:mon,thu``, ``monthly``
(the first post's day of the month; in a month without that day, its last day).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
KINDS = ("daily", "weekly", "monthly")


class RecurrenceError(ValueError):
    """A recurrence that cannot be read; the message says what is expected."""


@dataclass(frozen=True)
class Recurrence:
    kind: str
    days: tuple[int, ...] = ()  # weekly: 0 = Monday

    @classmethod
    def parse(cls, text: str) -> Recurrence:
        """``daily``, ``weekly`` (the first post's weekday), ``weekly:mon,thu`` or ``monthly``."""
        kind, _, rest = text.strip().lower().partition(":")
        if kind not in KINDS:
            raise RecurrenceError(f"{text!r}: daily, weekly, weekly:mon,thu or monthly")
        if kind != "weekly":
            if rest:
                raise RecurrenceError(f"{text!r}: only weekly takes days")
            return cls(kind)
        names = [d.strip()[:3] for d in rest.replace(" ", ",").split(",") if d.strip()]
        unknown = [n for n in names if n not in DAYS]
        if unknown:
            raise RecurrenceError(f"{text!r}: days are {', '.join(DAYS)}")
        return cls(kind, tuple(sorted({DAYS.index(n) for n in names})))

    @property
    def text(self) -> str:
        if self.kind == "weekly" and self.days:
            return "weekly:" + ",".join(DAYS[d] for d in self.days)
        return self.kind

    def describe(self) -> str:
        if self.kind == "weekly" and self.days:
            return "every " + ", ".join(calendar.day_name[d] for d in self.days)
        return {"daily": "every day", "weekly": "every week", "monthly": "every month"}[self.kind]


def local_instant(day: date, at: time, tz: tzinfo) -> datetime:
    """``day`` at wall time ``at`` in ``tz``, as an aware UTC datetime (see the module
    docstring for the skipped and repeated hours)."""
    # fold=0 (PEP 495): a skipped time takes the offset from before the change, which
    # lands an hour later on the new clock; a repeated time is its first instance.
    return datetime.combine(day, at).replace(tzinfo=tz, fold=0).astimezone(timezone.utc)


def next_after(first: datetime, rule: Recurrence, after: datetime, tz: tzinfo) -> datetime:
    """The first occurrence strictly after ``after``, for a series whose first post was
    at ``first`` (aware): its local date and time in ``tz`` anchor every later one."""
    start = first.astimezone(tz)
    at, anchor = start.time().replace(tzinfo=None), start.date()
    day = max(anchor, after.astimezone(tz).date() - timedelta(days=1))
    for _ in range(800):  # at most about two years of days; every rule hits well before
        if _matches(rule, anchor, day):
            when = local_instant(day, at, tz)
            if when > after:
                return when
        day += timedelta(days=1)
    raise RecurrenceError(f"no occurrence of {rule.text} found")  # unreachable for valid rules


def _matches(rule: Recurrence, anchor: date, day: date) -> bool:
    if day < anchor:
        return False
    if rule.kind == "daily":
        return True
    if rule.kind == "weekly":
        return day.weekday() in (rule.days or (anchor.weekday(),))
    last = calendar.monthrange(day.year, day.month)[1]
    return day.day == min(anchor.day, last)
