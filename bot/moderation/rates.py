"""The rules that need more than one message: bursts, duplicates, and new accounts.

``RateTracker`` remembers each member's recent messages in memory (what a restart loses
is a few seconds of rate history, which is fine), bounded twice over: per member to what
the largest window can need, and in members to the ``MAX_MEMBERS`` most recently active.
The clock is injected, so tests drive time instead of sleeping.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping

from bot.moderation.config import RuleConfig
from bot.moderation.normalize import normalize
from bot.moderation.rules import links_in

MAX_MEMBERS = 10_000
MAX_KEPT = 101  # the most messages any window may count (burst.messages is at most 100)


def _fingerprint(text: str) -> str:
    """Duplicates compare what the words rule sees: case, accents and spacing aside."""
    return " ".join(normalize(text).tokens)


class RateTracker:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._seen: OrderedDict[tuple[int, int], deque[tuple[float, str]]] = OrderedDict()

    def observe(self, guild_id: int, user_id: int, text: str,
                rules: Mapping[str, RuleConfig]) -> dict[str, str]:
        """Record one message and say which rate rules it breaks: {rule: detail}."""
        now, key = self._clock(), (guild_id, user_id)
        recent = self._seen.pop(key, None) or deque(maxlen=MAX_KEPT)
        self._seen[key] = recent
        while len(self._seen) > MAX_MEMBERS:
            self._seen.popitem(last=False)
        fingerprint = _fingerprint(text)
        recent.append((now, fingerprint))
        found = {}
        burst = rules.get("burst")
        if burst is not None and burst.enabled:
            n, seconds = burst.params["messages"], burst.params["seconds"]
            count = sum(1 for at, _ in recent if now - at <= seconds)
            if count >= n:
                found["burst"] = f"{count} messages in {seconds} s"
        dupes = rules.get("duplicates")
        if dupes is not None and dupes.enabled and fingerprint:
            n, seconds = dupes.params["count"], dupes.params["seconds"]
            count = sum(1 for at, f in recent if f == fingerprint and now - at <= seconds)
            if count >= n:
                found["duplicates"] = f"the same message {count} times in {seconds} s"
        return found


    def forget(self, guild_id: int, user_id: int) -> None:
        """Start the member's count afresh (after a rate rule acted on them)."""
        self._seen.pop((guild_id, user_id), None)


def new_account(text: str, account_age_s: float, rule: RuleConfig | None) -> str | None:
    """An account younger than ``min_age_hours`` may not post links or mentions."""
    if rule is None or not rule.enabled:
        return None
    hours = rule.params["min_age_hours"]
    if account_age_s >= hours * 3600:
        return None
    if links_in(text) or "<@" in text or "@everyone" in text or "@here" in text:
        return f"a link or mention from an account younger than {hours} hours"
    return None
