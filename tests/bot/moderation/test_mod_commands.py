"""The record-keeping /mod commands through the console: cases, notes, closing, automod
settings and the warning policy, as a moderator types them."""

from bot.console import member_id
from bot.console.world import GUILD_ID
from bot.moderation.cases import CaseBook
from bot.moderation.store import RuleStore
from tests.bot.test_adapters import bot_runtime, console_lines  # noqa: F401 (fixture)


async def test_a_moderator_reads_and_keeps_the_record(bot_runtime):  # noqa: F811
    rt, console, out = bot_runtime
    book = CaseBook(rt.services.db)
    ana = member_id("ana")
    for i in range(6):
        await book.open(GUILD_ID, "warn", ana, member_id("mo"), f"spam {i}", evidence=f"buy {i}")
    lines = await console_lines(console, out, [
        "ana: morning all",
        "mo: /mod cases ana",
        "mo: /mod cases ana page=2",
        "mo: /mod case note 2 \"second warning this week\"",
        "mo: /mod case reason 2 \"link spam\"",
        "mo: /mod case close 2",
        "mo: /mod case close 2",
        "mo: /mod case show 99",
    ])
    assert lines[0].startswith("[bot → mo] Cases for ana (page 1 of 2, 6 in all, 6 active warnings):")
    assert lines[1:6] == [f"#{n} warn: spam {n - 1}" for n in (6, 5, 4, 3, 2)]
    assert lines[6] == "[bot → mo] Cases for ana (page 2 of 2, 6 in all, 6 active warnings):"
    assert lines[7] == "#1 warn: spam 0"
    assert lines[8:] == [
        "[bot → mo] Added note 1 to case 2.",
        "[bot → mo] Case 2's reason is now: link spam",
        "[bot → mo] Closed case 2. It no longer counts towards escalation.",
        "[bot → mo] case 2 is already closed.",
        "[bot → mo] There is no case 99.",
    ]
    case = await book.get(GUILD_ID, 2)
    assert case.reason == "link spam" and case.closed_by == member_id("mo")
    assert [n[1] for n in await book.notes(case.id)] == ["second warning this week"]


async def test_automod_settings_and_policy_are_changed_and_refused_with_the_setting_named(bot_runtime):  # noqa: F811
    rt, console, out = bot_runtime
    lines = await console_lines(console, out, [
        "mo: /mod automod set caps ratio 0.9",
        "mo: /mod automod set caps ratio 9",
        "mo: /mod automod set caps actions delete,explode",
        "mo: /mod automod set words words \"free stuff, spoiler\"",
        "mo: /mod automod show caps",
        "mo: /mod automod reset caps",
        "mo: /mod policy escalate_after=2 dm_members=yes",
    ])
    assert lines == [
        "[bot → mo] Saved. **caps**: on; actions delete; min_letters=12, ratio=0.9",
        "[bot → mo] Nothing changed: caps.ratio: must be between 0.3 and 1.0.",
        "[bot → mo] Nothing changed: caps.actions: choose from delete, flag, timeout, warn (not explode).",
        "[bot → mo] Saved. **words**: on; actions delete, warn; words=[free stuff, spoiler], defaults=True",
        "[bot → mo] **caps**: on; actions delete; min_letters=12, ratio=0.9",
        "[bot → mo] caps is back to its defaults.",
        "[bot → mo] Saved. Warnings expire after 30 days; 2 active warnings within 7 days lead to "
        "a 60-minute timeout; members are sent the reason by DM.",
    ]
    words = (await RuleStore(rt.services.db).load(GUILD_ID))["words"]
    assert words.params["words"] == ["free stuff", "spoiler"]
