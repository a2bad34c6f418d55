"""``/settings``: a server's own values for what the environment sets by default.

For members with Manage Server. Each value lives in ``guild_settings`` or
``channel_settings`` (``bot.core.guilds``) and wins over the environment at once, with
no restart; leaving the option out clears it back to the default.
"""

from __future__ import annotations

from bot.config import MAX_PERSONA_CHARS
from bot.core.commands import Access, ChannelRef, Command, Invocation, Option, OptionKind
from bot.core.feature import Feature, Services
from bot.core.replies import Embed, Field, Reply
from bot.core.text import sanitize

MANAGE_SERVER = Access.permission_named("manage_guild")
ANSWER_MODES = {"always": True, "when-addressed": False, "default": None}


def _channel_text(value: int | str | None) -> str:
    if value is None:
        return "not set"
    return f"<#{value}>" if isinstance(value, int) else f"#{value} (from MODLOG_CHANNEL)"


def setup(services: Services) -> Feature:
    guilds = services.guilds

    async def show(inv: Invocation) -> Reply:
        guild, channel = inv.caller.guild_id, inv.caller.channel_id
        overrides = await guilds.overrides(guild, channel)
        answer = {True: "always", False: "only when addressed", None: "server default"}
        persona = overrides.persona or services.settings.persona
        return Reply(embeds=(Embed(title="Settings", fields=(
            Field("Mod-log channel", _channel_text(await guilds.modlog_channel(guild))),
            Field("Answers in this channel", answer[overrides.channel_answer]),
            Field("Persona", sanitize(persona[:1000]) + (" (custom)" if overrides.persona else " (default)")),
        )),))

    async def modlog(inv: Invocation) -> Reply:
        channel: ChannelRef | None = inv.get("channel")
        await guilds.set_guild(inv.caller.guild_id, "modlog_channel_id",
                               None if channel is None else channel.channel_id)
        if channel is None:
            return Reply("The mod-log channel is back to the default: "
                         f"{_channel_text(await guilds.modlog_channel(inv.caller.guild_id))}.")
        return Reply(f"Moderation actions will be logged in <#{channel.channel_id}>.")

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

    def command(name, description, handler, *options):
        return Command(name, description, handler, group="settings", options=options,
                       access=MANAGE_SERVER)

    return Feature(name="settings", commands=(
        command("show", "Show this server's bot settings", show),
        command("modlog", "Set the channel where moderation actions are logged", modlog,
                Option("channel", OptionKind.CHANNEL, "Leave out to go back to the default",
                       required=False)),
        command("persona", "Set who the bot is and how it answers, for this server", persona,
                Option("text", OptionKind.STRING, "Leave out to go back to the default",
                       required=False, low=1, high=MAX_PERSONA_CHARS)),
        command("answer-here", "Whether the bot answers every message in this channel",
                answer_here,
                Option("mode", OptionKind.CHOICE, "always, when-addressed, or default",
                       choices=tuple(ANSWER_MODES))),
    ))
