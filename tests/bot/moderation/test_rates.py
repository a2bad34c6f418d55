"""Bursts, duplicates and new accounts, driven by a fake clock."""

from dataclasses import replace

from bot.moderation.config import DEFAULTS, from_row
from bot.moderation.rates import MAX_MEMBERS, RateTracker, new_account

RULES = dict(DEFAULTS)


class Clock:
    now = 100.0

    def __call__(self):
        return self.now


def test_a_burst_is_six_messages_in_eight_seconds_by_default():
    clock = Clock()
    rates = RateTracker(clock)
    hits = []
    for i in range(6):
        hits.append(rates.observe(1, 42, f"message {i}", RULES))
        clock.now += 1
    assert hits[:5] == [{}] * 5 and hits[5] == {"burst": "6 messages in 8 s"}
    clock.now += 30
    assert rates.observe(1, 42, "calm again", RULES) == {}
    assert rates.observe(1, 43, "another member", RULES) == {}  # counted per member


def test_duplicates_ignore_case_and_spacing_and_expire_with_their_window():
    clock = Clock()
    rates = RateTracker(clock)
    assert rates.observe(1, 42, "BUY my stuff", RULES) == {}
    clock.now += 20
    assert rates.observe(1, 42, "buy  my STUFF!", RULES) == {}
    clock.now += 20
    assert rates.observe(1, 42, "buy my stuff", RULES) == {
        "duplicates": "the same message 3 times in 60 s"}
    clock.now += 61
    assert rates.observe(1, 42, "buy my stuff", RULES) == {}


def test_a_disabled_or_retuned_rule_is_respected():
    clock = Clock()
    rates = RateTracker(clock)
    rules = dict(RULES, burst=from_row("burst", '{"params": {"messages": 2, "seconds": 5}}'),
                 duplicates=replace(RULES["duplicates"], enabled=False))
    rates.observe(1, 42, "same", rules)
    assert rates.observe(1, 42, "same", rules) == {"burst": "2 messages in 5 s"}


def test_memory_is_bounded_in_members():
    rates = RateTracker(Clock())
    for user in range(MAX_MEMBERS + 50):
        rates.observe(1, user, "hi", RULES)
    assert len(rates._seen) == MAX_MEMBERS  # noqa: SLF001 (the bound is the point)


def test_new_accounts_may_not_post_links_or_mentions_when_enabled():
    rule = replace(RULES["new_accounts"], enabled=True)
    assert new_account("see https://x.example/a", 3600, rule) == (
        "a link or mention from an account younger than 24 hours")
    assert new_account("hi <@1>", 3600, rule) is not None
    assert new_account("hello, new here!", 3600, rule) is None
    assert new_account("see https://x.example/a", 2 * 86400, rule) is None
    assert new_account("see https://x.example/a", 60, RULES["new_accounts"]) is None  # off by default
