"""The ``/mod`` commands that act on members: warn, timeout, untimeout, kick, ban, unban.

Before anything happens, in this order: the platform checked the caller is a moderator
(before any argument was read); the reason must have words; the bot must hold the
Discord permission the action needs (the reply names it); and the hierarchy must allow
it: nobody acts on the bot, on themselves or on the owner, and the target's highest role
must be below the moderator's and, for an action Discord carries out, below the bot's.

Then the action is carried out through the member-actions port (``bot.core.members``),
a case is opened, the member gets the reason by DM when the guild's policy says so (before
a kick or ban, while they can still receive it), and the case is posted to the mod-log
channel. A warning that brings the member's active warnings to the policy's threshold
adds the escalation timeout, as its own case by the bot.
"""

from __future__ import annotations

from bot.core.commands import MODERATORS, Command, Invocation, MemberRef, Option, OptionKind
from bot.core.feature import Services
from bot.core.members import ActionFailed
from bot.core.posting import DirectTarget, post_to_modlog
from bot.core.replies import Reply
from bot.core.text import sanitize
from bot.moderation.cases import ESCALATION, Case, CaseBook

NEEDS = {"timeout": "moderate_members", "untimeout": "moderate_members",
         "kick": "kick_members", "ban": "ban_members", "unban": "ban_members"}
PERMISSION_WORDS = {"moderate_members": "Timeout Members", "kick_members": "Kick Members",
                    "ban_members": "Ban Members"}
PAST = {"warn": "warned", "timeout": "timed out", "untimeout": "released from a timeout",
        "kick": "kicked", "ban": "banned", "unban": "unbanned"}
MAX_TIMEOUT_S = 28 * 86_400


def action_commands(services: Services, cases: CaseBook) -> tuple[Command, ...]:
    members, guilds, poster = services.members, services.guilds, services.poster

    async def refusal(inv: Invocation, user_id: int, name: str, action: str) -> str | None:
        guild = inv.caller.guild_id
        if user_id == services.bot_user_id:
            return "I can't moderate myself."
        if user_id == inv.caller.user_id:
            return "You can't moderate yourself."
        need = NEEDS.get(action)
        if need and need not in await members.bot_permissions(guild):
            return (f"I need the {PERMISSION_WORDS[need]} permission to do that; "
                    "nothing was done.")
        if action == "unban":
            return None
        target = await members.standing(guild, user_id)
        if target is None:
            return f"{name} is not in this server."
        if target.owner:
            return "Nobody can moderate the server's owner."
        actor = await members.standing(guild, inv.caller.user_id)
        if actor is None or (not actor.owner and actor.top_role <= target.top_role):
            return f"{name}'s highest role is the same as or above yours; nothing was done."
        me = await members.standing(guild, services.bot_user_id)
        if need and (me is None or me.top_role <= target.top_role):
            return (f"{name}'s highest role is the same as or above mine: move my role above "
                    "theirs in the server settings; nothing was done.")
        return None

    async def tell_member(guild: int, user_id: int, case: Case) -> str:
        policy = await cases.policy(guild)
        if not policy.dm_members or case.action == "unban":
            return ""
        text = f"You were {PAST[case.action]} by this server's moderators: {case.reason}"
        if case.duration_s:
            text += f" ({case.duration_s // 60} minutes)"
        if policy.appeal_text:
            text += f"\nTo appeal: {policy.appeal_text}"
        try:
            await poster.send(DirectTarget(user_id), Reply(sanitize(text)))
        except Exception:
            return " I could not DM them (their DMs may be closed)."
        return " They were told by DM."

    async def log_case(guild: int, case: Case) -> None:
        length = f" for {case.duration_s // 60} minutes" if case.duration_s else ""
        await post_to_modlog(guilds, poster, guild,
                             f"Case {case.number}: <@{case.user_id}> {PAST[case.action]}{length} "
                             f"by <@{case.actor_id}>: {sanitize(case.reason)}")

    async def act(inv: Invocation, action: str, user_id: int, name: str, *,
                  seconds: int | None = None, delete_days: int = 0) -> Reply:
        guild = inv.caller.guild_id
        reason = " ".join((inv.get("reason") or "").split())
        if not reason:
            return Reply("A reason is required; nothing was done.")
        why_not = await refusal(inv, user_id, name, action)
        if why_not:
            return Reply(why_not)
        dm = ""
        if action in ("kick", "ban"):  # tell them while they can still read it
            dm = await tell_member(guild, user_id, _pending(guild, action, user_id, inv, reason))
        try:
            if action in ("timeout", "untimeout"):
                await members.timeout(guild, user_id, seconds, reason)
            elif action == "kick":
                await members.kick(guild, user_id, reason)
            elif action == "ban":
                await members.ban(guild, user_id, delete_days, reason)
            elif action == "unban":
                await members.unban(guild, user_id, reason)
        except ActionFailed as exc:
            return Reply(f"{exc}; no case was opened.")
        case = await cases.open(guild, action, user_id, inv.caller.user_id, reason,
                                duration_s=seconds)
        if action not in ("kick", "ban"):
            dm = await tell_member(guild, user_id, case)
        await log_case(guild, case)
        text = f"Case {case.number}: {sanitize(name)} was {PAST[action]}.{dm}"
        if action == "warn":
            text += await escalate(guild, user_id, name)
        return Reply(text)

    async def escalate(guild: int, user_id: int, name: str) -> str:
        due = await cases.escalation(guild, user_id)
        if due is None:
            return ""
        reason = f"{due.warnings} active warnings (escalation)"
        if "moderate_members" not in await members.bot_permissions(guild):
            return (f" That makes {due.warnings} active warnings, but I need the Timeout Members "
                    "permission to give the escalation timeout.")
        try:
            await members.timeout(guild, user_id, due.minutes * 60, reason)
        except ActionFailed as exc:
            return f" The escalation timeout failed: {exc}."
        case = await cases.open(guild, "timeout", user_id, services.bot_user_id, reason,
                                rule=ESCALATION, duration_s=due.minutes * 60)
        await log_case(guild, case)
        return (f" That makes {due.warnings} active warnings: case {case.number}, a "
                f"{due.minutes}-minute timeout.")

    def on_member(action: str, **extra):
        async def handler(inv: Invocation) -> Reply:
            member: MemberRef = inv.get("member")
            duration = inv.get("duration")
            seconds = int(duration.total_seconds()) if duration is not None else None
            return await act(inv, action, member.user_id, member.name, seconds=seconds,
                             delete_days=inv.get("delete_days", 0) or 0)
        return handler

    async def unban(inv: Invocation) -> Reply:
        text = inv.get("user_id").strip()
        if not text.isdigit() or not 0 < int(text) < 2**63:
            return Reply("user_id: the banned user's id (digits).")
        return await act(inv, "unban", int(text), f"user {text}")

    member = Option("member", OptionKind.MEMBER, "The member")
    reason = Option("reason", OptionKind.STRING, "Why (the member sees it if DMs are on)",
                    low=1, high=500)

    def command(name, description, handler, *options):
        return Command(name, description, handler, group="mod", options=options, access=MODERATORS)

    return (
        command("warn", "Warn a member; enough active warnings lead to a timeout",
                on_member("warn"), member, reason),
        command("timeout", "Time a member out (Discord's native timeout)", on_member("timeout"),
                member, Option("duration", OptionKind.DURATION, "How long, e.g. 10m, 2h, 1d",
                               low=60, high=MAX_TIMEOUT_S), reason),
        command("untimeout", "Lift a member's timeout", on_member("untimeout"), member, reason),
        command("kick", "Kick a member from the server", on_member("kick"), member, reason),
        command("ban", "Ban a member", on_member("ban"), member, reason,
                Option("delete_days", OptionKind.INTEGER, "Days of their messages to delete (0-7)",
                       required=False, low=0, high=7)),
        command("unban", "Lift a ban", unban,
                Option("user_id", OptionKind.STRING, "The banned user's id", low=1, high=20), reason),
    )


def _pending(guild: int, action: str, user_id: int, inv: Invocation, reason: str) -> Case:
    """The case as the member will be told of it, before it is opened (kick and ban)."""
    return Case(0, guild, 0, action, user_id, inv.caller.user_id, None, reason, None, (), None,
                None, None, 0, None, None, None)
