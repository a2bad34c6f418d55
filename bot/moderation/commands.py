"""The ``/mod`` commands that read and keep the record: cases, notes, automod settings and
the warning policy. Every one is for moderators (Discord default permissions, and the
platform's run-time check before any argument is read).

``/mod automod set rule setting value`` takes the value as text, read by the setting's
type: ``on``/``off`` for ``enabled``, a comma list for ``actions``, words or ids, a number
otherwise; ``bot.moderation.config`` validates it and names the setting when it refuses.
"""

from __future__ import annotations

from bot.core.commands import (MANAGE_SERVER, MODERATORS, ChannelRef, Command, Invocation, MemberRef,
                               Option, OptionKind)
from bot.core.guilds import GuildSettings, channel_text
from bot.core.replies import Embed, Field, Reply
from bot.core.text import sanitize
from bot.moderation.cases import Case, CaseBook, CaseError
from bot.moderation.config import DEFAULTS, PARAMS, RuleConfig, RuleError
from bot.moderation.store import RuleStore

PER_PAGE = 5
# Where the record and reported messages are posted is the server's decision, as it was
# under /settings: a moderator who can time members out must not be able to move it.
TOGGLES = {"on": True, "off": False, "true": True, "false": False, "yes": True, "no": False}


def when(ms: int | None) -> str:
    if ms is None:
        return "never"
    return f"<t:{ms // 1000}:f>"


def case_line(case: Case) -> str:
    state = " (closed)" if case.closed_at else ""
    return f"#{case.number} {case.action}{state}: {sanitize(case.reason)}"


def case_embed(case: Case, notes: list) -> Embed:
    fields = [Field("Member", f"<@{case.user_id}>"), Field("By", f"<@{case.actor_id}>"),
              Field("When", when(case.created_at))]
    if case.rule:
        fields.append(Field("Rule", case.rule))
    if case.duration_s:
        fields.append(Field("Duration", f"{case.duration_s // 60} minutes"))
    if case.action == "warn":
        fields.append(Field("Expires", when(case.expires_at)))
    if case.evidence:
        fields.append(Field("Evidence", "> " + sanitize(case.evidence[:900])))
    if case.attachments:
        fields.append(Field("Attachments", ", ".join(sanitize(a) for a in case.attachments)))
    if case.closed_at:
        fields.append(Field("Closed", f"{when(case.closed_at)} by "
                                      f"{'<@%d>' % case.closed_by if case.closed_by else 'a former moderator'}"))
    for i, (author, text, at) in enumerate(notes[:5], 1):
        fields.append(Field(f"Note {i}", f"{sanitize(text[:300])} ({'<@%d>' % author if author else 'someone'})"))
    return Embed(title=f"Case {case.number}: {case.action}", description=sanitize(case.reason),
                 fields=tuple(fields))


def rule_text(name: str, rule: RuleConfig) -> str:
    params = ", ".join(f"{k}={_shown(v)}" for k, v in rule.params.items() if k != "shop_domains")
    parts = ["on" if rule.enabled else "off", "actions " + ", ".join(rule.actions)]
    if "timeout" in rule.actions:
        parts.append(f"timeout {rule.timeout_minutes} min")
    if params:
        parts.append(params)
    if rule.include_staff:
        parts.append("moderators and bots too")
    if rule.exempt_roles or rule.exempt_channels:
        parts.append(f"{len(rule.exempt_roles)} exempt roles, {len(rule.exempt_channels)} exempt channels")
    return f"**{name}**: " + "; ".join(parts)


def _shown(value) -> str:
    if isinstance(value, list):
        return f"[{len(value)} entries]" if len(value) > 5 else "[" + ", ".join(value) + "]"
    return str(value)


def parse_value(rule: str, setting: str, text: str) -> dict:
    """The change ``/mod automod set`` asks for, as ``RuleStore.change`` takes it."""
    text = text.strip()
    if setting in ("enabled", "include_staff"):
        if text.casefold() not in TOGGLES:
            raise RuleError(f"{rule}.{setting}: on or off")
        return {setting: TOGGLES[text.casefold()]}
    if setting == "actions":
        return {"actions": [a.strip().casefold() for a in text.split(",") if a.strip()]}
    if setting == "timeout_minutes":
        return {"timeout_minutes": _number(rule, setting, text, int)}
    if setting in ("exempt_roles", "exempt_channels"):
        ids = [w.strip("<@&#> ") for w in text.replace(",", " ").split()]
        if not all(i.isdigit() for i in ids):
            raise RuleError(f"{rule}.{setting}: role or channel ids (or mentions), separated by commas")
        return {setting: [int(i) for i in ids]}
    spec = PARAMS.get(rule, {}).get(setting)
    if spec is None:
        known = ", ".join(["enabled", "actions", "timeout_minutes", "include_staff", "exempt_roles",
                           "exempt_channels", *PARAMS.get(rule, {})])
        raise RuleError(f"{rule}.{setting}: no such setting (the {rule} rule has: {known})")
    kind = spec[0]
    if kind is bool:
        if text.casefold() not in TOGGLES:
            raise RuleError(f"{rule}.{setting}: on or off")
        value = TOGGLES[text.casefold()]
    elif kind is list:
        value = [w.strip() for w in text.split(",") if w.strip()]
    elif kind is str:
        value = text.casefold()
    else:
        value = _number(rule, setting, text, kind)
    return {"params": {setting: value}}


def _number(rule: str, setting: str, text: str, kind: type):
    try:
        return kind(text)
    except ValueError:
        raise RuleError(f"{rule}.{setting}: must be a {'whole ' if kind is int else ''}number") from None


def mod_commands(cases: CaseBook, store: RuleStore, guilds: GuildSettings) -> tuple[Command, ...]:
    async def modlog(inv: Invocation) -> Reply:
        channel: ChannelRef | None = inv.get("channel")
        await guilds.set_guild(inv.caller.guild_id, "modlog_channel_id",
                               None if channel is None else channel.channel_id)
        if channel is None:
            return Reply("The mod-log channel is back to the default: "
                         f"{channel_text(await guilds.modlog_channel(inv.caller.guild_id))}.")
        return Reply(f"Moderation actions and reports will be logged in <#{channel.channel_id}>.")

    async def member_cases(inv: Invocation) -> Reply:
        member: MemberRef = inv.get("member")
        page = inv.get("page", 1)
        found, total = await cases.for_member(inv.caller.guild_id, member.user_id, page, PER_PAGE)
        pages = max(1, -(-total // PER_PAGE))
        if not found:
            return Reply(f"{sanitize(member.name)} has no cases" + (f" on page {page}" if total else "") + ".")
        active = len(await cases.active_warnings(inv.caller.guild_id, member.user_id))
        lines = [f"Cases for {sanitize(member.name)} (page {page} of {pages}, {total} in all, "
                 f"{active} active warning{'s' if active != 1 else ''}):"]
        lines += [case_line(c) for c in found]
        return Reply("\n".join(lines))

    async def show(inv: Invocation) -> Reply:
        case = await cases.get(inv.caller.guild_id, inv.get("number"))
        if case is None:
            return Reply(f"There is no case {inv.get('number')}.")
        return Reply(embeds=(case_embed(case, await cases.notes(case.id)),))

    async def reason(inv: Invocation) -> Reply:
        try:
            case = await cases.set_reason(inv.caller.guild_id, inv.get("number"), inv.get("reason"))
        except CaseError as exc:
            return Reply(f"{exc}.")
        return Reply(f"Case {case.number}'s reason is now: {sanitize(case.reason)}")

    async def note(inv: Invocation) -> Reply:
        try:
            count = await cases.add_note(inv.caller.guild_id, inv.get("number"), inv.caller.user_id,
                                         inv.get("text"))
        except CaseError as exc:
            return Reply(f"{exc}.")
        return Reply(f"Added note {count} to case {inv.get('number')}.")

    async def close(inv: Invocation) -> Reply:
        try:
            case = await cases.close(inv.caller.guild_id, inv.get("number"), inv.caller.user_id)
        except CaseError as exc:
            return Reply(f"{exc}.")
        extra = " It no longer counts towards escalation." if case.action == "warn" else ""
        return Reply(f"Closed case {case.number}.{extra}")

    async def automod_show(inv: Invocation) -> Reply:
        rules = await store.load(inv.caller.guild_id)
        name = inv.get("rule")
        shown = [name] if name else list(rules)
        return Reply("\n".join(rule_text(n, rules[n]) for n in shown))

    async def automod_set(inv: Invocation) -> Reply:
        name, setting = inv.get("rule"), inv.get("setting").strip().casefold()
        try:
            config = await store.change(inv.caller.guild_id, name, parse_value(name, setting, inv.get("value")),
                                        by=inv.caller.user_id)
        except RuleError as exc:
            return Reply(f"Nothing changed: {sanitize(str(exc))}.")
        return Reply("Saved. " + rule_text(name, config))

    async def automod_reset(inv: Invocation) -> Reply:
        done = await store.reset(inv.caller.guild_id, inv.get("rule"))
        return Reply(f"{inv.get('rule')} is back to its defaults." if done
                     else f"{inv.get('rule')} already uses its defaults.")

    async def policy(inv: Invocation) -> Reply:
        changes = {k: inv.get(k) for k in ("warn_expiry_days", "escalate_after",
                                           "escalate_window_days", "escalate_timeout_minutes")
                   if inv.get(k) is not None}
        if inv.get("dm_members") is not None:
            changes["dm_members"] = inv.get("dm_members") == "yes"
        if inv.get("appeal") is not None:
            changes["appeal_text"] = "" if inv.get("appeal").strip() == "-" else inv.get("appeal")
        try:
            p = (await cases.set_policy(inv.caller.guild_id, **changes) if changes
                 else await cases.policy(inv.caller.guild_id))
        except CaseError as exc:
            return Reply(f"Nothing changed: {exc}.")
        expiry = f"after {p.warn_expiry_days} days" if p.warn_expiry_days else "never"
        escalation = (f"{p.escalate_after} active warnings within {p.escalate_window_days} days "
                      f"lead to a {p.escalate_timeout_minutes}-minute timeout" if p.escalate_after
                      else "no escalation")
        appeal = f" How to appeal: {sanitize(p.appeal_text)}" if p.appeal_text else ""
        return Reply(("Saved. " if changes else "") + f"Warnings expire {expiry}; {escalation}; "
                     f"members are {'' if p.dm_members else 'not '}sent the reason by DM.{appeal}")

    number = Option("number", OptionKind.INTEGER, "The case number", low=1, high=10**9)
    rule = Option("rule", OptionKind.CHOICE, "The automod rule", choices=tuple(DEFAULTS))

    def command(name, description, handler, *options, group="mod"):
        return Command(name, description, handler, group=group, options=options, access=MODERATORS)

    return (
        command("cases", "A member's moderation cases, newest first", member_cases,
                Option("member", OptionKind.MEMBER, "The member"),
                Option("page", OptionKind.INTEGER, "Page number", required=False, low=1, high=10_000)),
        command("show", "Show one case with its evidence and notes", show, number, group="mod case"),
        command("reason", "Change a case's reason", reason, number,
                Option("reason", OptionKind.STRING, "The new reason", low=1, high=1000), group="mod case"),
        command("note", "Add a note to a case", note, number,
                Option("text", OptionKind.STRING, "The note", low=1, high=1000), group="mod case"),
        command("close", "Close a case (a closed warning stops counting)", close, number,
                group="mod case"),
        command("show", "Show the automod rules and their settings", automod_show,
                Option("rule", OptionKind.CHOICE, "One rule only", required=False,
                       choices=tuple(DEFAULTS)), group="mod automod"),
        command("set", "Change one setting of an automod rule", automod_set, rule,
                Option("setting", OptionKind.STRING, "enabled, actions, timeout_minutes, or a "
                       "rule parameter", low=1, high=40),
                Option("value", OptionKind.STRING, "The new value", low=1, high=2000),
                group="mod automod"),
        command("reset", "Put an automod rule back to its defaults", automod_reset, rule,
                group="mod automod"),
        command("policy", "Warning expiry, escalation and DMs; no options shows them", policy,
                Option("warn_expiry_days", OptionKind.INTEGER, "Days a warning counts (0: always)",
                       required=False, low=0, high=3650),
                Option("escalate_after", OptionKind.INTEGER, "Active warnings that lead to a "
                       "timeout (0: never)", required=False, low=0, high=100),
                Option("escalate_window_days", OptionKind.INTEGER, "Within how many days",
                       required=False, low=1, high=3650),
                Option("escalate_timeout_minutes", OptionKind.INTEGER, "The timeout's length",
                       required=False, low=1, high=40320),
                Option("dm_members", OptionKind.CHOICE, "Send members the reason by DM",
                       required=False, choices=("yes", "no")),
                Option("appeal", OptionKind.STRING, "How to appeal, told in the DM (- clears it)",
                       required=False, low=1, high=500)),
        Command("channel", "Set the channel for moderation logs and reports (none: the default)",
                modlog, group="mod modlog", access=MANAGE_SERVER,
                options=(Option("channel", OptionKind.CHANNEL, "Leave out to go back to the default",
                                required=False),)),
    )
