"""``/settings``: a server's own values for what the environment sets by default.

For members with Manage Server. Each value lives in ``guild_settings`` or
``channel_settings`` (``bot.core.guilds``) and wins over the environment at once, with
no restart; leaving the option out clears it back to the default. The mod-log channel is
set with ``/mod modlog channel``, beside the other moderation commands.

``/settings staff`` states the whole of who the bot offers when it cannot answer (a role,
a channel, whether to ping the role) in one command, so a left-out option is cleared like
any other here, and the reply says in the bot's own words what members will now be told.
"""

from __future__ import annotations

from bot.config import MAX_PERSONA_CHARS
from bot.core.commands import (MANAGE_SERVER, ChannelRef, Command, Invocation, Option, OptionKind,
                               RoleRef)
from bot.core.feature import Feature, Services
from bot.core.guilds import Staff, channel_text
from bot.core.replies import Embed, Field, Reply
from bot.core.text import sanitize
from bot.grounding.compose import decline

ANSWER_MODES = {"always": True, "when-addressed": False, "default": None}


def _staff_text(staff: Staff) -> str:
    """How ``/settings show`` sums up the staff setting."""
    if staff.role_id is None and staff.channel_id is None:
        return "not set: members are asked to find a moderator"
    parts = []
    if staff.role_id is not None:
        parts.append(f"<@&{staff.role_id}>" + (", pinged" if staff.ping else ", not pinged"))
    if staff.channel_id is not None:
        parts.append(f"help in <#{staff.channel_id}>")
    return "; ".join(parts)


def _staff_plan(staff: Staff) -> str:
    """What the bot does from now on when it cannot answer, quoting what it will say."""
    text = decline(staff.role_id, staff.channel_id, staff.ping)
    lines = ["When I cannot answer a question, I'll reply:", f"> {text}"]
    if staff.role_id is not None and staff.ping:
        where = (f"<#{staff.channel_id}>" if staff.channel_id is not None
                 else "the channel the question was asked in")
        lines.append(f"I'll also ping <@&{staff.role_id}> in {where} with the question.")
    elif staff.role_id is not None:
        lines.append("The role is named, not pinged.")
    return "\n".join(lines)


def setup(services: Services) -> Feature:
    guilds = services.guilds

    async def show(inv: Invocation) -> Reply:
        guild, channel = inv.caller.guild_id, inv.caller.channel_id
        overrides = await guilds.overrides(guild, channel)
        answer = {True: "always", False: "only when addressed", None: "server default"}
        persona = overrides.persona or services.settings.persona
        return Reply(embeds=(Embed(title="Settings", fields=(
            Field("Mod-log channel", channel_text(await guilds.modlog_channel(guild))),
            Field("Time zone", guilds.tz(guild).key),
            Field("Answers in this channel", answer[overrides.channel_answer]),
            Field("Persona", sanitize(persona[:1000]) + (" (custom)" if overrides.persona else " (default)")),
            Field("When the bot cannot answer", _staff_text(await guilds.staff(guild))),
        )),))

    async def timezone(inv: Invocation) -> Reply:
        name = inv.get("zone")
        try:
            zone = await guilds.set_timezone(inv.caller.guild_id, name and name.strip())
        except ValueError as exc:
            return Reply(f"zone: {exc}.")
        return Reply(f"Dates typed in commands and repeating posts now use {zone.key}"
                     + (" (the default)." if name is None else "."))

    async def persona(inv: Invocation) -> Reply:
        text = inv.get("text")
        await guilds.set_guild(inv.caller.guild_id, "persona", text)
        return Reply("The persona is back to the default." if text is None
                     else "The bot will answer with the new persona from the next message on.")

    async def answer_here(inv: Invocation) -> Reply:
        mode = inv.get("mode")
        await guilds.set_channel_answer(inv.caller.guild_id, inv.caller.channel_id, ANSWER_MODES[mode])
        return Reply({"always": "I'll answer every message in this channel.",
                      "when-addressed": "In this channel I'll answer only mentions, replies and threads I'm in.",
                      "default": "This channel follows the server's answer channels again."}[mode])

    async def staff(inv: Invocation) -> Reply:
        role: RoleRef | None = inv.get("role")
        channel: ChannelRef | None = inv.get("channel")
        ping = inv.get("ping") == "yes"
        if ping and role is None:
            return Reply("ping: choose the role to ping as well (role=...).")
        guild = inv.caller.guild_id
        chosen = Staff(None if role is None else role.role_id,
                       None if channel is None else channel.channel_id, ping)
        await guilds.set_guild(guild, "staff_role_id", chosen.role_id)
        await guilds.set_guild(guild, "staff_channel_id", chosen.channel_id)
        await guilds.set_guild(guild, "staff_ping", int(chosen.ping))  # NOT NULL: 0 is "off"
        return Reply(_staff_plan(await guilds.staff(guild)))

    def command(name, description, handler, *options):
        return Command(name, description, handler, group="settings", options=options,
                       access=MANAGE_SERVER)

    return Feature(name="settings", commands=(
        command("show", "Show this server's bot settings", show),
        command("timezone", "The server's time zone for scheduled posts; none: the default",
                timezone, Option("zone", OptionKind.STRING, "A name like Europe/Berlin",
                                 required=False, low=1, high=64)),
        command("persona", "Set who the bot is and how it answers, for this server", persona,
                Option("text", OptionKind.STRING, "Leave out to go back to the default",
                       required=False, low=1, high=MAX_PERSONA_CHARS)),
        command("answer-here", "Whether the bot answers every message in this channel",
                answer_here,
                Option("mode", OptionKind.CHOICE, "always, when-addressed, or default",
                       choices=tuple(ANSWER_MODES))),
        command("staff", "Who the bot offers when it cannot answer; no options clears it", staff,
                Option("role", OptionKind.ROLE, "The team's role, named in the bot's reply",
                       required=False),
                Option("channel", OptionKind.CHANNEL, "Where members get help from the team",
                       required=False),
                Option("ping", OptionKind.CHOICE, "yes: ping the role with the question",
                       required=False, choices=("yes", "no"))),
    ))
