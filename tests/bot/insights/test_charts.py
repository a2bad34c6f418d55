"""Every chart comes out as a valid PNG a person can read, with data and without."""

import io
from collections import Counter
from datetime import date, timedelta

import matplotlib.image

from bot.insights import charts
from bot.insights.store import Day, Followup

DAYS = [Day(date(2026, 3, 1) + timedelta(days=i), i % 3, 2, 5 - i % 4, (-1) ** i * 0.3)
        for i in range(14)]
FOLLOWUPS = [Followup(1, 42, "ana", 11, 500, "my parcel never arrived " * 8, 0),
             Followup(2, 43, "bo", 11, 501, "wrong size", 86_400_000)]


def pixels(png: bytes):
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    return matplotlib.image.imread(io.BytesIO(png), format="png")


def test_each_chart_is_a_png_of_a_readable_size():
    made = {
        "days": charts.sentiment_by_day(DAYS, "Sentiment per day"),
        "products": charts.products([("Harbour linen shirt", Counter(positive=4, negative=1)),
                                     ("Ridge merino crew " * 5, Counter(neutral=2))], "Products"),
        "active": charts.active_members([("ana", 12), ("bo", 3)], "Most active"),
        "complaints": charts.open_complaints(FOLLOWUPS, 3 * 86_400_000, "Open complaints"),
        "member": charts.member_trend(DAYS, "ana"),
    }
    for name, png in made.items():
        height, width = pixels(png).shape[:2]
        assert 500 <= width <= 1400 and 200 <= height <= 900, (name, width, height)


def test_an_empty_period_still_draws_a_chart_that_says_so():
    empty = [Day(d.day, 0, 0, 0, 0.0) for d in DAYS]
    for png in (charts.sentiment_by_day(empty, "t"), charts.products([], "t"),
                charts.active_members([], "t"), charts.open_complaints([], 0, "t"),
                charts.member_trend(empty, "bo")):
        assert pixels(png).shape[1] > 300


async def test_charts_are_drawn_off_the_event_loop():
    png = await charts.draw(charts.active_members, [("ana", 1)], "t")
    assert pixels(png).shape[0] > 100


def test_member_text_is_drawn_as_written_and_a_long_list_fits_one_message():
    from bot.insights.views import followup_list

    odd = [Followup(1, 42, "ana", 11, 500, "paid $40 for a_b and $5 for ^c^ {x}", 0)]
    assert pixels(charts.open_complaints(odd, 86_400_000, "t")).shape[1] > 300  # no mathtext
    many = [Followup(i, 42, "ana", 11, 500 + i, "it never arrived " * 20, 0) for i in range(1, 16)]
    text = followup_list(many, 40)
    assert len(text) <= 2000 and "… and " in text and text.endswith("/followup resolve number:N.")
