"""Automod's verdicts, a guild's stored rule settings, the CLI, and the guard on the
bot's own text."""

import json

import pytest

from bot.core.pipeline import OutputCheck
from bot.core.feature import load_features
from bot.firstrun import DEMO_SHOP
from bot.kb import KnowledgeBase
from bot.kb.files import parse_document
from bot.moderation import toxicity
from bot.moderation.automod import Automod
from bot.moderation.config import DEFAULTS, RuleError, defaults, from_row
from bot.moderation.store import RuleStore
from bot.runtime import make_services
from tests.bot.harness import BOT, RecordingPoster, settings
from tests.bot.test_console import run_cli
from tests.bot.test_runtime import ClosedModel

GUILD = 1


def test_verdicts_name_the_rules_and_join_their_actions():
    automod = Automod(defaults())
    v = automod.check("FREE NITRO https://disc0rd-gift.com/claim")
    assert v.flagged and set(v.rules) == {"scam", "promotion", "links"}
    assert v.actions == ("delete", "warn", "timeout", "flag")  # fixed order, no repeats
    ok = automod.check("does the linen shirt run small?")
    assert ok.as_json() == {"text": "does the linen shirt run small?", "flagged": False,
                            "rules": [], "actions": []}


def test_toxicity_is_scored_on_what_evasions_spell_and_ignores_identity_words():
    raw = toxicity.raw_scores(["f u c k you", "as a gay man I love the fit"])
    ours = toxicity.scores(["f u c k you", "as a gay man I love the fit"])
    assert raw[0] < 0.5 < ours[0]  # spaced letters read as the word
    assert ours[1] < 0.5 < raw[1]  # the group's name is not what is judged
    assert toxicity.masked("fuuuuck offff") == "fuck fuuck of off"


def test_a_disabled_rule_does_not_flag():
    rules = dict(defaults())
    rules["caps"] = from_row("caps", '{"enabled": false}')
    assert not Automod(rules).check("WHY IS MY ORDER NOT HERE YET").flagged


@pytest.mark.parametrize("stored, error", [
    ('{"actions": ["explode"]}', "caps.actions: choose from delete, flag, timeout, warn (not explode)"),
    ('{"params": {"ratio": 7}}', "caps.ratio: must be between 0.3 and 1.0"),
    ('{"params": {"nope": 1}}', "caps.nope: no such setting"),
    ('{"timeout_minutes": 0}', "caps.timeout_minutes: a whole number from 1 to 40320"),
    ("[1]", "caps: stored settings must be an object"),
    ("{", "caps: stored settings are not JSON"),
])
def test_bad_settings_are_refused_with_the_setting_named(stored, error):
    with pytest.raises(RuleError, match=error.replace("(", r"\(").replace(")", r"\)")):
        from_row("caps", stored)


async def test_a_guild_stores_only_its_changes_and_keeps_its_shop_domains(db):
    kb = KnowledgeBase(db)
    for path in DEMO_SHOP:
        await kb.import_file(GUILD, path)
    store = RuleStore(db)
    assert await store.shop_domains(GUILD) == ["juniperandpine.example"]
    await store.change(GUILD, "links", {"params": {"allow": ["instagram.com"]}}, by=42)
    await store.change(GUILD, "links", {"params": {"mode": "allowlist"}}, by=43)
    rules = await store.load(GUILD)
    assert rules["links"].params == {"allow": ["instagram.com"], "mode": "allowlist",
                                     "shop_domains": ["juniperandpine.example"]}
    assert rules["caps"] == DEFAULTS["caps"]
    with pytest.raises(RuleError):
        await store.change(GUILD, "links", {"params": {"mode": "sometimes"}}, by=42)
    assert (await store.load(GUILD))["links"].params["mode"] == "allowlist"  # nothing written
    assert await store.reset(GUILD, "links")
    assert (await store.load(2))["links"] == DEFAULTS["links"]


async def test_a_row_this_version_cannot_read_is_skipped_not_fatal(db):
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO automod_rules VALUES (1, 'telepathy', '{}', NULL, 0)")
        await conn.execute("INSERT INTO automod_rules VALUES (1, 'caps', '{\"params\": {\"ratio\": 9}}', NULL, 0)")
    rules = await RuleStore(db).load(GUILD)
    assert rules["caps"] == DEFAULTS["caps"] and "telepathy" not in rules


def test_automod_test_prints_one_json_verdict_per_line(tmp_path):
    stdin = "hello, love the jacket\nthe Scunthorpe shop gave great assistance\n\nFREE NITRO claim now\n"
    result = run_cli(["automod", "test", "--db", str(tmp_path / "bot.db")], tmp_path, stdin.encode())
    assert result.returncode == 0, result.stderr.decode()
    lines = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert [(x["text"], x["flagged"]) for x in lines] == [
        ("hello, love the jacket", False), ("the Scunthorpe shop gave great assistance", False),
        ("", False), ("FREE NITRO claim now", True)]
    assert lines[3]["rules"] == ["scam"] and "delete" in lines[3]["actions"]


async def test_the_guard_refuses_generated_text_a_moderator_would_delete(db):
    services = make_services(settings(), db, ClosedModel(), RecordingPoster(), bot_user_id=BOT,
                             bot_name="bot")
    load_features(["moderation"], services)
    check = services.pipeline.check_output
    shop_link = OutputCheck("See https://juniperandpine.example/products/x", GUILD, 10)
    assert "not on the allowlist" in await check(shop_link)  # no catalog yet: not the shop's
    for path in DEMO_SHOP:
        await KnowledgeBase(db).import_file(GUILD, path)
    assert await check(shop_link) is None
    assert await check(OutputCheck("The linen shirt runs true to size.", GUILD, 10)) is None
    for text in ("@everyone the sale is live", "you f4ggot", "order here: https://deals.example",
                 "ping <@1> <@2> <@3>", "FREE NITRO at discord.gg/x"):
        assert (await check(OutputCheck(text, GUILD, 10))).startswith("automod: "), text
    await services.writer.close()


async def test_links_the_knowledge_base_gives_are_the_shops_own(db):
    faq = "## Where is my parcel?\nTrack it at https://www.royalmail.com/track-your-item\n"
    await KnowledgeBase(db).import_document(GUILD, parse_document("faq.md", faq.encode()))
    store = RuleStore(db)
    assert await store.shop_domains(GUILD) == ["royalmail.com"]
    rules = await store.load(GUILD)
    assert "links" not in Automod(rules).check("see royalmail.com/track-your-item").rules
