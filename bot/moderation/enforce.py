"""Carrying out one moderation action, whoever decided it: a moderator's command, automod,
or a moderator's button on a report.

``Enforcer.act`` checks, acts, records and tells, in this order:
  * the reason must have words;
  * the bot must hold the Discord permission the action needs (the answer names it);
  * the hierarchy must allow it: nobody acts on the bot, on themselves or on the owner,
    and the target's highest role must be below the actor's and, for an action Discord
    carries out on the member, below the bot's (deleting a message has no hierarchy);
  * the action, through the member-actions port (``bot.core.members``) or, for a message,
    the posting port; the archive forgets a deleted message at once, as on a gateway event;
  * a case, with the evidence; the member's DM when the guild's policy says so (before a
    kick or ban, while they can still read it); the mod-log post;
  * a warning that brings the member's active warnings to the policy's threshold adds the
    escalation timeout, as its own case by the bot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.feature import Services
from bot.core.members import ActionFailed
from bot.core.posting import ChannelTarget, DirectTarget, PostingError, post_to_modlog
from bot.core.replies import Reply
from bot.core.text import sanitize
from bot.moderation.cases import ESCALATION, Case, CaseBook

NEEDS = {"timeout": "moderate_members", "untimeout": "moderate_members",
         "kick": "kick_members", "ban": "ban_members", "unban": "ban_members",
         "delete": "manage_messages", "purge": "manage_messages"}
PERMISSION_WORDS = {"moderate_members": "Timeout Members", "kick_members": "Kick Members",
                    "ban_members": "Ban Members", "manage_messages": "Manage Messages"}
PAST = {"warn": "warned", "timeout": "timed out", "untimeout": "released from a timeout",
        "kick": "kicked", "ban": "banned", "unban": "unbanned"}
ON_MEMBER = ("timeout", "untimeout", "kick", "ban")  # what Discord checks the bot's role for


def happened(action: str) -> str:
    """What happened to the member: "was warned", "had a message deleted"."""
    return "had a message deleted" if action == "delete" else f"was {PAST[action]}"


@dataclass(frozen=True)
class Outcome:
    """What ``act`` did, in one line for the actor, and the case, when it opened one."""

    text: str
    case: Case | None = None


class Enforcer:
    def __init__(self, services: Services, cases: CaseBook) -> None:
        self._s = services
        self.cases = cases

    def missing(self, action: str, permissions: frozenset[str]) -> str | None:
        """The refusal when the bot lacks the permission ``action`` needs."""
        need = NEEDS.get(action)
        if need and need not in permissions and "administrator" not in permissions:
            return f"I need the {PERMISSION_WORDS[need]} permission to do that; nothing was done."
        return None

    async def refusal(self, guild: int, actor_id: int, user_id: int, name: str,
                      action: str) -> str | None:
        members, me = self._s.members, self._s.bot_user_id
        if user_id == me:
            return "I can't moderate myself."
        if user_id == actor_id:
            return "You can't moderate yourself."
        lacking = self.missing(action, await members.bot_permissions(guild))
        if lacking:
            return lacking
        if action in ("unban", "delete"):
            return None
        target = await members.standing(guild, user_id)
        if target is None:
            return f"{name} is not in this server."
        if target.owner:
            return "Nobody can moderate the server's owner."
        actor = await members.standing(guild, actor_id)
        if actor is None or (not actor.owner and actor.top_role <= target.top_role):
            return f"{name}'s highest role is the same as or above yours; nothing was done."
        bot = await members.standing(guild, me)
        if action in ON_MEMBER and (bot is None or bot.top_role <= target.top_role):
            return (f"{name}'s highest role is the same as or above mine: move my role above "
                    "theirs in the server settings; nothing was done.")
        return None

    async def act(self, guild: int, actor_id: int, action: str, user_id: int, name: str,
                  reason: str, *, seconds: int | None = None, delete_days: int = 0,
                  rule: str | None = None, evidence: str | None = None,
                  attachments: Sequence[str] = (), channel_id: int | None = None,
                  message_id: int | None = None, tell: bool = True) -> Outcome:
        reason = " ".join((reason or "").split())
        if not reason:
            return Outcome("A reason is required; nothing was done.")
        why_not = await self.refusal(guild, actor_id, user_id, name, action)
        if why_not:
            return Outcome(why_not)
        record = dict(rule=rule, evidence=evidence, attachments=attachments,
                      channel_id=channel_id, message_id=message_id, duration_s=seconds)
        dm = ""
        if tell and action in ("kick", "ban"):  # tell them while they can still read it
            dm = await self.tell(guild, user_id, action, reason, seconds)
        try:
            await self._carry_out(guild, action, user_id, reason, seconds, delete_days,
                                  channel_id, message_id)
        except (ActionFailed, PostingError) as exc:
            return Outcome(f"{exc}; no case was opened.")
        case = await self.cases.open(guild, action, user_id, actor_id, reason, **record)
        if tell and action not in ("kick", "ban"):
            dm = await self.tell(guild, user_id, action, reason, seconds)
        await self.log(guild, case)
        text = f"Case {case.number}: {sanitize(name)} {happened(action)}.{dm}"
        if action == "warn":
            text += await self.escalate(guild, user_id)
        return Outcome(text, case)

    async def _carry_out(self, guild: int, action: str, user_id: int, reason: str,
                         seconds: int | None, delete_days: int, channel_id: int | None,
                         message_id: int | None) -> None:
        members = self._s.members
        if action in ("timeout", "untimeout"):
            await members.timeout(guild, user_id, seconds, reason)
        elif action == "kick":
            await members.kick(guild, user_id, reason)
        elif action == "ban":
            await members.ban(guild, user_id, delete_days, reason)
        elif action == "unban":
            await members.unban(guild, user_id, reason)
        elif action == "delete":
            await self._s.poster.delete(ChannelTarget(guild, channel_id), message_id)
            await self._s.pipeline.on_delete([message_id])

    async def tell(self, guild: int, user_id: int, action: str, reason: str,
                   seconds: int | None = None) -> str:
        """DM the member the reason (and how to appeal) if the guild's policy says so."""
        policy = await self.cases.policy(guild)
        if not policy.dm_members or action == "unban":
            return ""
        if action == "delete":
            text = f"A message of yours was deleted by this server's moderation: {reason}"
        else:
            text = f"You were {PAST[action]} by this server's moderators: {reason}"
        if seconds:
            text += f" ({seconds // 60} minutes)"
        if policy.appeal_text:
            text += f"\nTo appeal: {policy.appeal_text}"
        try:
            await self._s.poster.send(DirectTarget(user_id), Reply(sanitize(text)))
        except Exception:
            return " I could not DM them (their DMs may be closed)."
        return " They were told by DM."

    async def log(self, guild: int, case: Case) -> None:
        length = f" for {case.duration_s // 60} minutes" if case.duration_s else ""
        where = f" in <#{case.channel_id}>" if case.action == "delete" and case.channel_id else ""
        await post_to_modlog(self._s.guilds, self._s.poster, guild,
                             f"Case {case.number}: <@{case.user_id}> {happened(case.action)}{where}"
                             f"{length} by <@{case.actor_id}>: {sanitize(case.reason)}")

    async def escalate(self, guild: int, user_id: int) -> str:
        due = await self.cases.escalation(guild, user_id)
        if due is None:
            return ""
        reason = f"{due.warnings} active warnings (escalation)"
        if self.missing("timeout", await self._s.members.bot_permissions(guild)):
            return (f" That makes {due.warnings} active warnings, but I need the Timeout Members "
                    "permission to give the escalation timeout.")
        try:
            await self._s.members.timeout(guild, user_id, due.minutes * 60, reason)
        except ActionFailed as exc:
            return f" The escalation timeout failed: {exc}."
        case = await self.cases.open(guild, "timeout", user_id, self._s.bot_user_id, reason,
                                     rule=ESCALATION, duration_s=due.minutes * 60)
        await self.log(guild, case)
        return (f" That makes {due.warnings} active warnings: case {case.number}, a "
                f"{due.minutes}-minute timeout.")
