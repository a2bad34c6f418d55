"""Moderation: automod on members' messages, the /mod commands, the review queue with
"Report to moderators", and the guard on everything the model writes.

Automod (``bot.moderation.live``) runs at the pipeline's ``AUTOMOD`` stage: a message it
deletes goes no further. Every action, by a moderator or automod, is carried out by one
``Enforcer`` and is a case.

Generated text passes the same rules members' messages meet, whatever a guild switched
off for its members, because the bot's own voice must never need a moderator: the
guild's banned words and the defaults, plain-word threats, the toxicity classifier at the guild's threshold,
any @everyone, @here or mass mention, and links, which must be to the shop's own domains
or the guild's allowlist (a model can write a plausible address that was never the
shop's). A refusal names the rules; the chat feature logs it and answers with a safe note.

Data: the rule settings name the moderator who last changed them (``updated_by``); cases
(``bot.moderation.cases``) are about a member, and name who closed them and who wrote
their notes; reports (``bot.moderation.reports``) are about a member's message, and name
who reported it and who resolved it. A deletion request keeps the cases and reports about
the member without their evidence (a safety record), drops their reports of others, and
unlinks the rest.
"""

from __future__ import annotations

import dataclasses

from bot.core.feature import DataHooks, Feature, Services
from bot.core.pipeline import MessageHook, OutputCheck, Stage
from bot.moderation.actions import action_commands
from bot.moderation.automod import Automod
from bot.moderation.cases import CaseBook
from bot.moderation.commands import mod_commands
from bot.moderation.config import RuleSet, defaults
from bot.moderation.enforce import Enforcer
from bot.moderation.live import LiveAutomod
from bot.moderation.reports import ReportQueue
from bot.moderation.review import Review
from bot.moderation.store import RuleStore

GUARDED = ("words", "threats", "mentions", "links", "toxicity")


def for_generated_text(rules: RuleSet) -> dict:
    """The guild's rules as they apply to the bot's own text: on, and links allowlisted."""
    out = {name: dataclasses.replace(rules[name], enabled=True) for name in GUARDED}
    out["links"] = dataclasses.replace(out["links"], params={**out["links"].params, "mode": "allowlist"})
    out["mentions"] = dataclasses.replace(out["mentions"], params={**out["mentions"].params,
                                                                   "max_mentions": 3})
    return out


def setup(services: Services) -> Feature:
    db = services.db
    store = RuleStore(db)
    cases = CaseBook(db)
    enforcer = Enforcer(services, cases)
    review = Review(services, ReportQueue(db), enforcer)
    automod = LiveAutomod(services, store, enforcer, review)

    async def guard(check: OutputCheck) -> str | None:
        rules = await store.load(check.guild_id) if check.guild_id is not None else defaults()
        verdict = (await Automod(for_generated_text(rules)).check_async([check.text],
                                                                          only=GUARDED))[0]
        return "automod: " + "; ".join(verdict.rules.values()) if verdict.flagged else None

    async def export(guild: int, user_id: int) -> dict:
        rows = await db.fetchall("SELECT rule, updated_at FROM automod_rules "
                                 "WHERE guild_id = ? AND updated_by = ? ORDER BY rule", (guild, user_id))
        return {"automod_rules_you_changed": [{"rule": r[0], "at": r[1]} for r in rows],
                **await cases.export(guild, user_id), **await review.queue.export(guild, user_id)}

    async def unlink(guild: int, user_id: int) -> int:
        return (await db.unlink("automod_rules", ("updated_by",), guild, user_id)
                + await cases.forget(guild, user_id)
                + await review.queue.forget(guild, user_id))

    commands, message_commands, routes = review.declarations()
    return Feature(
        name="moderation",
        hooks=(MessageHook(Stage.AUTOMOD, automod.hook),),
        on_edit=automod.on_edit,
        guards=(guard,),
        commands=(*action_commands(services, enforcer), *mod_commands(cases, store, services.guilds), *commands),
        message_commands=message_commands,
        components=routes,
        data=DataHooks(covers=("automod_rules.updated_by", "mod_cases.user_id",
                               "mod_cases.closed_by", "mod_case_notes.author_id",
                               "mod_reports.author_id", "mod_reports.resolved_by",
                               "mod_report_reporters.user_id"),
                       export=export, delete=unlink))
