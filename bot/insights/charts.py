"""The insight charts, drawn with matplotlib into PNG bytes.

Moderators would rather look than read: each chart answers one question (how is the mood,
which products are talked about and how, who is active, which complaints wait), with
labelled axes, readable dates and the colours people expect (red bad, green good). The
Agg backend draws without a display, so it works on a server; figures are closed after
drawing, so a long-running bot does not collect them.
"""

from __future__ import annotations

import asyncio
import io
import textwrap
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import matplotlib

matplotlib.use("Agg")
matplotlib.rcParams["text.parse_math"] = False  # member text with two "$" is not maths
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from bot.insights.store import SENTIMENTS, Day, Followup  # noqa: E402

COLOURS = {"negative": "#d62728", "neutral": "#9e9e9e", "positive": "#2ca02c"}
WIDTH = 9.0  # inches; 100 dpi: 900 px, a Discord embed's width


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _empty(ax, what: str) -> None:
    ax.text(0.5, 0.5, f"No {what} in this period yet", ha="center", va="center",
            transform=ax.transAxes, fontsize=12, color="#555555")
    ax.set_xticks([])
    ax.set_yticks([])


def sentiment_by_day(days: Sequence[Day], title: str) -> bytes:
    """Stacked bars of messages per day by sentiment, with the day's mean mood as a line."""
    fig, ax = plt.subplots(figsize=(WIDTH, 4.2))
    ax.set_title(title)
    if not any(d.count for d in days):
        _empty(ax, "classified messages")
        return _png(fig)
    x = [datetime(d.day.year, d.day.month, d.day.day) for d in days]
    bottom = [0] * len(days)
    for name in SENTIMENTS:
        values = [getattr(d, name) for d in days]
        ax.bar(x, values, bottom=bottom, color=COLOURS[name], label=name, width=0.8)
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_ylabel("messages")
    ax.yaxis.get_major_locator().set_params(integer=True)  # whole messages
    ax.set_xlabel("day")
    mood = ax.twinx()
    points = [(xi, d.mean) for xi, d in zip(x, days) if d.count]
    mood.plot([p[0] for p in points], [p[1] for p in points], color="#1f3b73", marker="o",
              linewidth=2, label="mood (mean)")
    mood.axhline(0, color="#1f3b73", linewidth=0.6, linestyle=":")
    mood.set_ylim(-1.05, 1.05)
    mood.set_ylabel("mood: -1 negative to +1 positive")
    ax.set_xlim(x[0] - timedelta(hours=12), x[-1] + timedelta(hours=12))
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=10))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%a %d %b"))
    fig.autofmt_xdate(rotation=30)
    handles = ax.get_legend_handles_labels()[0] + mood.get_legend_handles_labels()[0]
    ax.legend(handles, [*SENTIMENTS, "mood (mean)"], loc="upper left", fontsize=8, ncols=4)
    ax.set_ylim(0, max(bottom) * 1.25 + 1)
    return _png(fig)


def _barh(ax, labels: Sequence[str]) -> None:
    ax.set_yticks(range(len(labels)), [textwrap.shorten(s, 40, placeholder="…") for s in labels])
    ax.invert_yaxis()  # the first is on top


def _bar_figure(rows: Sequence, title: str, row_height: float = 0.45):
    """A horizontal-bar figure sized to its rows."""
    fig, ax = plt.subplots(figsize=(WIDTH, 1.2 + row_height * max(3, len(rows))))
    ax.set_title(title)
    return fig, ax


def products(rows: Sequence[tuple[str, Counter]], title: str) -> bytes:
    """The most-mentioned products, each bar split by the sentiment of its mentions."""
    fig, ax = _bar_figure(rows, title)
    if not rows:
        _empty(ax, "product mentions")
        return _png(fig)
    left = [0] * len(rows)
    for name in SENTIMENTS:
        values = [c[name] for _, c in rows]
        ax.barh(range(len(rows)), values, left=left, color=COLOURS[name], label=name)
        left = [a + v for a, v in zip(left, values)]
    _barh(ax, [title for title, _ in rows])
    ax.set_xlabel("mentions")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def active_members(rows: Sequence[tuple[str, int]], title: str) -> bytes:
    fig, ax = _bar_figure(rows, title, 0.4)
    if not rows:
        _empty(ax, "messages")
        return _png(fig)
    ax.barh(range(len(rows)), [n for _, n in rows], color="#4c72b0")
    _barh(ax, [name for name, _ in rows])
    ax.set_xlabel("messages")
    ax.xaxis.get_major_locator().set_params(integer=True)
    return _png(fig)


def open_complaints(rows: Sequence[Followup], now_ms: int, title: str) -> bytes:
    """How long each open complaint has waited, the longest on top."""
    fig, ax = _bar_figure(rows, title)
    if not rows:
        _empty(ax, "open complaints")
        return _png(fig)
    waited = [max(0.0, (now_ms - f.created_at) / 86_400_000) for f in rows]
    ax.barh(range(len(rows)), waited, color=COLOURS["negative"])
    _barh(ax, [f"#{f.number} {f.user_name}: {' '.join(f.content.split())}" for f in rows])
    ax.set_xlabel("days waiting")
    return _png(fig)


def member_trend(days: Sequence[Day], name: str) -> bytes:
    """One member's mood per day (points sized by how much they wrote)."""
    fig, ax = plt.subplots(figsize=(WIDTH, 3.6))
    ax.set_title(f"{name}: mood per day")
    active = [d for d in days if d.count]
    if not active:
        _empty(ax, "classified messages")
        return _png(fig)
    x = [datetime(d.day.year, d.day.month, d.day.day, tzinfo=timezone.utc) for d in active]
    ax.plot(x, [d.mean for d in active], color="#1f3b73", linewidth=1.5)
    ax.scatter(x, [d.mean for d in active], s=[20 + 15 * min(d.count, 20) for d in active],
               c=[COLOURS["positive"] if d.mean > 0.2 else COLOURS["negative"] if d.mean < -0.2
                  else COLOURS["neutral"] for d in active], zorder=3)
    ax.axhline(0, color="#555555", linewidth=0.6, linestyle=":")
    ax.set_ylim(-1.1, 1.1)
    ax.set_ylabel("mood: -1 to +1")
    ax.set_xlabel("day (dot size: messages)")
    first = datetime(days[0].day.year, days[0].day.month, days[0].day.day, tzinfo=timezone.utc)
    last = datetime(days[-1].day.year, days[-1].day.month, days[-1].day.day, tzinfo=timezone.utc)
    if first < last:
        ax.set_xlim(first, last)
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=3, maxticks=10))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%d %b"))
    fig.autofmt_xdate(rotation=30)
    return _png(fig)


_DRAWER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="charts")


async def draw(chart: Callable[..., bytes], *args) -> bytes:
    """Draw off the event loop (a chart takes a tenth of a second or more), one at a
    time: pyplot's figure registry is not thread-safe."""
    return await asyncio.get_running_loop().run_in_executor(_DRAWER, chart, *args)
