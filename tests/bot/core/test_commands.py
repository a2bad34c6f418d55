"""Command declarations, argument conversion and the access check (bot.core)."""

from datetime import datetime, timedelta, timezone

import pytest

from bot.core.commands import (ADMINISTRATOR, EVERYONE, MODERATORS, Access, ArgumentError,
                               Caller, Command, Option, OptionKind, commands_for, convert,
                               convert_all, parse_duration)
from bot.core.dispatch import FAILED, NOT_IN_DMS, run_command
from bot.core.replies import Reply
from bot.core.text import DISCORD_LIMIT


async def echo(inv):
    return Reply(repr(dict(inv.args)))


WARN = Command("warn", "Warn a member", echo, group="mod", access=MODERATORS, options=(
    Option("member", OptionKind.MEMBER, "Who"),
    Option("reason", OptionKind.STRING, "Why", low=3, high=20),
    Option("days", OptionKind.INTEGER, "How long it counts", required=False, low=1, high=90),
    Option("timeout", OptionKind.DURATION, "Also time out", required=False, low=60, high=2_419_200),
    Option("at", OptionKind.DATETIME, "When", required=False),
    Option("kind", OptionKind.CHOICE, "Kind", required=False, choices=("spam", "abuse")),
))
MOD = Caller(1, "mo", guild_id=5, permissions=frozenset({"moderate_members"}))
MEMBER = Caller(2, "ana", guild_id=5)


@pytest.mark.parametrize("raw, error", [
    ({"member": 1, "reason": "no"}, "reason: the length must be at least 3, got 2"),
    ({"member": 1, "reason": "x" * 21}, "reason: the length must be at most 20, got 21"),
    ({"member": 1, "reason": "spam", "days": "0"}, "days: the value must be at least 1, got 0"),
    ({"member": 1, "reason": "spam", "days": "lots"}, "days: expected a whole number, got 'lots'"),
    ({"member": 1, "reason": "spam", "days": 91}, "days: the value must be at most 90, got 91"),
    ({"member": 1, "reason": "spam", "timeout": "10"}, "timeout: '10' is not a duration like 30m, 2h or 1d12h"),
    ({"member": 1, "reason": "spam", "timeout": "30s"}, "timeout: the duration in seconds must be at least 60, got 30"),
    ({"member": 1, "reason": "spam", "at": "tomorrow"}, "at: 'tomorrow' is not a date and time like 2026-12-24 18:00"),
    ({"member": 1, "reason": "spam", "kind": "rude"}, "kind: expected one of spam, abuse, got 'rude'"),
    ({"member": 1}, "reason: required (usage: /mod warn member=… reason=… [days=…] [timeout=…] [at=…] [kind=…])"),
    ({"member": 1, "reason": "spam", "colour": "red"}, "colour: /mod warn has no such option"),
])
def test_a_bad_argument_is_one_line_naming_the_option(raw, error):
    with pytest.raises(ArgumentError) as info:
        convert_all(WARN, raw)
    assert str(info.value).startswith(error) and "\n" not in str(info.value)


def test_good_arguments_convert_to_their_types():
    args = convert_all(WARN, {"member": 1, "reason": "spam", "days": "7", "timeout": "1h30m",
                              "at": "2026-12-24 18:00", "kind": "spam"})
    assert args["days"] == 7 and args["timeout"] == timedelta(hours=1, minutes=30)
    assert args["at"] == datetime(2026, 12, 24, 18, 0, tzinfo=timezone.utc)
    assert convert(WARN.options[4], "2026-12-24T18:00+01:00").utcoffset() == timedelta(hours=1)
    assert parse_duration("2d 12h") == timedelta(days=2, hours=12)
    assert parse_duration("1w") == timedelta(weeks=1)


def test_declarations_are_checked():
    with pytest.raises(ValueError, match="option name"):
        Option("Bad-Name", OptionKind.STRING, "x")
    with pytest.raises(ValueError, match="choices"):
        Option("kind", OptionKind.CHOICE, "x")
    with pytest.raises(ValueError, match="required options must come before"):
        Command("x", "x", echo, options=(Option("a", OptionKind.STRING, "a", required=False),
                                         Option("b", OptionKind.STRING, "b")))
    with pytest.raises(ValueError, match="description"):
        Command("x", "", echo)


def test_access_rules():
    assert EVERYONE.allows(frozenset())
    assert MODERATORS.allows(frozenset({"manage_guild"}))
    assert not MODERATORS.allows(frozenset({"manage_messages"}))
    manage = Access.permission_named("manage_messages")
    assert manage.allows(frozenset({"manage_messages"})) and not manage.allows(frozenset({"kick_members"}))
    assert manage.allows(frozenset({ADMINISTRATOR}))
    assert manage.describe() == "the Manage Messages permission"
    assert Access.permission_named("manage_guild").describe() == "the Manage Server permission"


async def test_a_denied_command_is_private_names_the_permission_and_does_nothing():
    ran = []

    async def handler(inv):
        ran.append(inv)
        return Reply("done")

    command = Command("purge", "Purge", handler, access=Access.permission_named("manage_messages"),
                      private=False)
    reply = await run_command(command, MEMBER, {})
    assert reply == Reply("You need the Manage Messages permission to use /purge.", private=True)
    assert ran == []
    assert (await run_command(command, MOD, {})).text == reply.text  # moderate_members is not it
    dm = Caller(2, "ana", guild_id=None, permissions=frozenset({ADMINISTRATOR}))
    assert (await run_command(command, dm, {})).text == NOT_IN_DMS
    allowed = Caller(3, "al", guild_id=5, permissions=frozenset({"manage_messages"}))
    assert await run_command(command, allowed, {}) == Reply("done", private=False)
    assert len(ran) == 1


async def test_a_failing_handler_gives_a_note_and_long_text_is_cut(caplog):
    async def broken(inv):
        raise RuntimeError("boom")

    async def verbose(inv):
        return Reply("x" * 5000)

    assert (await run_command(Command("b", "b", broken), MEMBER, {})).text == FAILED
    assert "/b failed" in caplog.text
    long = await run_command(Command("v", "v", verbose), MEMBER, {})
    assert len(long.text) == DISCORD_LIMIT and long.private is True


def test_help_lists_what_the_caller_may_run_where_they_are():
    mine = Command("memory", "Memory", echo)
    assert commands_for(MEMBER, [WARN, mine]) == [mine]
    assert commands_for(MOD, [WARN, mine]) == [WARN, mine]
    in_dm = Caller(1, "mo", guild_id=None, permissions=frozenset({ADMINISTRATOR}))
    assert commands_for(in_dm, [WARN, mine]) == [mine]


def test_discord_limits_are_checked_where_things_are_declared():
    from bot.core.replies import Button, Select, SelectOption, custom_id

    with pytest.raises(ValueError, match="at most 25 choices"):
        Option("k", OptionKind.CHOICE, "k", choices=tuple(str(i) for i in range(26)))
    with pytest.raises(ValueError, match="string lengths"):
        Option("t", OptionKind.STRING, "t", high=0)
    select = Select(custom_id("a.b", "1"), (SelectOption("x", "x"),))
    buttons = tuple(Button(str(i), custom_id("a.b", str(i))) for i in range(20))
    Reply("ok", components=(select, *buttons))  # 1 + 4 rows
    with pytest.raises(ValueError, match="this one needs 6"):
        Reply("too many", components=(select, select, *buttons))
    with pytest.raises(ValueError, match="custom id"):
        custom_id("a.b", "trailing newline\n")
    with pytest.raises(ValueError, match="is longer than 10 years"):
        parse_duration("999999w" * 200)
