"""Automod on live messages: the pipeline's ``AUTOMOD`` hook.

Each guild message by a member is judged by the rules that apply to it: a rule skips
moderators, the owner and bots unless its ``include_staff`` is on, and skips its exempt
roles and channels (a thread counts as its parent channel too). Judged are the content
rules (``Automod``, the classifier in a worker thread), the rate rules (``RateTracker``)
and the new-account rule. The bot's own messages are never judged. An edited message is
judged again by its content rules (``on_edit``), when the adapter knows its author.

What the hit rules ask for is done once, however many rules asked, most visible first:
**delete** the message (then the hook stops the message: nothing later, such as the chat
answer, sees it), **timeout** for the longest duration asked, **warn**, and **flag** for
review (``bot.moderation.review``). Each action is a case by the bot with the rules named
in its reason and the message as evidence, posted to the mod log; the member gets one DM,
for the heaviest action, when the guild's policy sends DMs. An action the bot cannot take
(a missing permission, a member above the bot) is posted to the mod log instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.core.commands import MODERATORS
from bot.core.feature import Services
from bot.core.messages import Incoming
from bot.core.pipeline import STOP, Edit, MessageEvent
from bot.core.posting import post_to_modlog
from bot.core.text import sanitize
from bot.moderation.automod import ACTION_ORDER, Automod
from bot.moderation.config import CONTENT, RuleConfig
from bot.moderation.enforce import Enforcer
from bot.moderation.rates import RateTracker, new_account
from bot.moderation.review import Review
from bot.moderation.store import RuleStore

HEAVIEST = ("timeout", "warn", "delete")  # which action's DM the member gets


class LiveAutomod:
    def __init__(self, services: Services, store: RuleStore, enforcer: Enforcer, review: Review,
                 clock: Callable[[], float] = time.time) -> None:
        self._s = services
        self._store = store
        self._enforcer = enforcer
        self._review = review
        self._clock = clock
        self.rates = RateTracker()

    def _applying(self, rules, msg: Incoming) -> dict[str, RuleConfig]:
        staff = msg.author_is_bot or MODERATORS.allows(msg.author_permissions)
        channels = (msg.channel_id,) + ((msg.thread_id,) if msg.thread_id else ())
        return {name: rule for name, rule in rules.items()
                if rule.applies(msg.author_roles, channels, staff)}

    async def judge(self, msg: Incoming, *, rates: bool = True
                    ) -> tuple[dict[str, str], dict[str, RuleConfig]]:
        """The rules ``msg`` breaks ({rule: what it found}) and the rules that applied;
        ``rates`` False for an edit, which is not another message."""
        rules = self._applying(await self._store.load(msg.guild_id), msg)
        found: dict[str, str] = {}
        text = msg.judged_text  # mentions as sent: <@id>, @everyone
        content = [name for name in CONTENT if name in rules]
        if content and text.strip():
            found |= (await Automod(rules).check_async([text], only=content))[0].rules
        if rates:
            found |= self.rates.observe(msg.guild_id, msg.author_id, text, rules)
            if "burst" in found:  # one burst, one timeout: count afresh from here
                self.rates.forget(msg.guild_id, msg.author_id)
        if msg.author_created_at is not None:
            age_s = self._clock() - msg.author_created_at / 1000
            young = new_account(text, age_s, rules.get("new_accounts"))
            if young:
                found["new_accounts"] = young
        return found, rules

    async def hook(self, event: MessageEvent) -> str | None:
        msg = event.msg
        if msg.guild_id is None or msg.author_id == self._s.bot_user_id:
            return None
        found, rules = await self.judge(msg)
        if not found:
            return None
        return STOP if await self.enforce(msg, found, rules) else None

    async def on_edit(self, edit: Edit) -> None:
        """An edited message is judged again by its content (an edit can add what the
        first version did not say), when the adapter knows who wrote it."""
        msg = edit.message
        if msg is None or msg.guild_id is None or msg.author_id == self._s.bot_user_id:
            return
        found, rules = await self.judge(msg, rates=False)
        if found:
            await self.enforce(msg, found, rules)

    async def enforce(self, msg: Incoming, found: dict[str, str],
                      rules: dict[str, RuleConfig]) -> bool:
        """Carry out the hit rules' actions; True when the message was deleted."""
        asked = {a for name in found for a in rules[name].actions}
        actions = [a for a in ACTION_ORDER if a in asked]
        heaviest = next((a for a in HEAVIEST if a in asked), None)
        minutes = max((rules[n].timeout_minutes for n in found if "timeout" in rules[n].actions),
                      default=0)
        reason = "automod " + "; ".join(f"{name}: {detail}" for name, detail in found.items())
        guild, bot = msg.guild_id, self._s.bot_user_id
        evidence = dict(rule=", ".join(found), evidence=msg.content,
                        attachments=msg.attachments, channel_id=msg.conversation_id,
                        message_id=msg.message_id)
        deleted, failures = False, []
        for action in actions:
            if action == "flag":
                await self._review.file(guild, source="automod", channel_id=msg.conversation_id,
                                        message_id=msg.message_id, author_id=msg.author_id,
                                        reason=reason, content=msg.content,
                                        attachments=msg.attachments, deleted=deleted)
                continue
            outcome = await self._enforcer.act(
                guild, bot, action, msg.author_id, msg.author_name, reason,
                seconds=minutes * 60 if action == "timeout" else None,
                tell=action == heaviest, **evidence)
            if outcome.case is None:
                failures.append(f"{action}: {outcome.text}")
            elif action == "delete":
                deleted = True
        if failures:
            await post_to_modlog(self._s.guilds, self._s.poster, guild,
                                 f"Automod could not act on <@{msg.author_id}>'s message in "
                                 f"<#{msg.conversation_id}> ({sanitize(reason)}): "
                                 + " ".join(sanitize(f) for f in failures))
        return deleted
