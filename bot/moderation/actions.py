"""The ``/mod`` commands that act on members and messages: warn, timeout, untimeout,
kick, ban, unban, purge.

The platform checked the caller is a moderator before any argument was read; the
``Enforcer`` (``bot.moderation.enforce``) does the rest: the reason, the bot's permissions,
the hierarchy, the action, the case, the DM, the mod log and escalation.

``/mod purge count [member]`` looks through the ``count`` newest messages where it is run
(a thread's own, in a thread) and deletes them, or only the member's among them: Discord
bulk-deletes messages younger than 14 days, and older ones one by one.
"""

from __future__ import annotations

from bot.core.commands import MODERATORS, Command, Invocation, MemberRef, Option, OptionKind
from bot.core.feature import Services
from bot.core.members import ActionFailed
from bot.core.posting import post_to_modlog
from bot.core.replies import Reply
from bot.core.text import sanitize
from bot.moderation.enforce import Enforcer

MAX_TIMEOUT_S = 28 * 86_400
MAX_PURGE = 100


def action_commands(services: Services, enforcer: Enforcer) -> tuple[Command, ...]:
    async def act(inv: Invocation, action: str, user_id: int, name: str, **kw) -> Reply:
        outcome = await enforcer.act(inv.caller.guild_id, inv.caller.user_id, action, user_id,
                                     name, inv.get("reason") or "", **kw)
        return Reply(outcome.text)

    def on_member(action: str):
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

    async def purge(inv: Invocation) -> Reply:
        guild, where = inv.caller.guild_id, inv.caller.where
        member: MemberRef | None = inv.get("member")
        reason = " ".join(inv.get("reason").split())
        if not reason:
            return Reply("A reason is required; nothing was done.")
        lacking = enforcer.missing("purge", await services.members.bot_permissions(guild))
        if lacking:
            return Reply(lacking)
        try:
            deleted = await services.members.purge(guild, where, inv.get("count"),
                                                   member and member.user_id, reason)
        except ActionFailed as exc:
            return Reply(f"{exc}; nothing was deleted.")
        await services.pipeline.on_delete(deleted)
        whose = f" by {sanitize(member.name)}" if member else ""
        text = f"Deleted {len(deleted)} messages{whose} in <#{where}>."
        if member and deleted:
            case = await enforcer.cases.open(guild, "purge", member.user_id, inv.caller.user_id,
                                             reason, channel_id=where)
            text = f"Case {case.number}: {text}"
        await post_to_modlog(services.guilds, services.poster, guild,
                             f"{text[:-1]}, by <@{inv.caller.user_id}>: {sanitize(reason)}")
        return Reply(text)

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
        command("purge", "Delete recent messages here, or only one member's among them", purge,
                Option("count", OptionKind.INTEGER, f"How many recent messages to look through "
                       f"(1-{MAX_PURGE})", low=1, high=MAX_PURGE),
                Option("reason", OptionKind.STRING, "Why (for the mod log)", low=1, high=500),
                Option("member", OptionKind.MEMBER, "Only this member's messages", required=False)),
    )

