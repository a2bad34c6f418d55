"""Slash commands built from the features' declarations, and answering interactions.

Each declared ``Command`` becomes an ``app_commands.Command`` whose callback signature is
made from its options (discord.py reads a callback's signature to learn its parameters),
so Discord's client shows and pre-checks the same ranges, lengths and choices. The
callback then goes through ``bot.core.dispatch``: the run-time access check (server
admins can change who sees a command, not what it requires), argument conversion, and
the handler. Refusals are answered at once and privately; a command that runs is
deferred first, so a busy database can never exceed Discord's 3-second window.

``default_permissions`` is per top-level command on Discord: a group whose subcommands
differ in access gets the moderators' default when all of them are restricted and
moderators run some, else none; each subcommand's own check still runs.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from datetime import timezone, tzinfo
from typing import Any, Literal, Optional

import discord
from discord import app_commands

from bot.core.commands import (MODERATORS, Access, AttachmentRef, Caller, ChannelRef, Command,
                               MemberRef, MessageCommand, MessageRef, Option, OptionKind, RoleRef)
from bot.core.dispatch import invoke, prepare, run_message_command
from bot.core.feature import Features
from bot.core.replies import Reply
from bot.discord_app.convert import permission_names
from bot.discord_app.render import send_kwargs

log = logging.getLogger(__name__)

TEXT_INPUT = 100  # longest duration or date-time text accepted


def caller_of(interaction: discord.Interaction) -> Caller:
    """The caller, where they are: in a thread, its parent channel (as for messages, so a
    channel setting made in a thread is the one its messages read). Permissions by every
    name discord.py knows (``convert.permission_names``)."""
    channel = interaction.channel
    thread = isinstance(channel, discord.Thread)
    return Caller(
        user_id=interaction.user.id,
        name=interaction.user.display_name,
        guild_id=interaction.guild_id,
        channel_id=channel.parent_id if thread else interaction.channel_id or 0,
        permissions=permission_names(interaction.permissions),
        thread_id=channel.id if thread else None,
    )


def _ranged(kind: type, option: Option) -> Any:
    if option.low is None and option.high is None:
        return kind
    return app_commands.Range[kind, option.low, option.high]


def annotation(option: Option) -> Any:
    kind = option.kind
    if kind is OptionKind.MEMBER:
        return discord.User  # a Member in a guild, a User in DMs
    if kind is OptionKind.CHANNEL:
        return discord.abc.GuildChannel
    if kind is OptionKind.ROLE:
        return discord.Role
    if kind is OptionKind.ATTACHMENT:
        return discord.Attachment
    if kind is OptionKind.INTEGER:
        return _ranged(int, option)
    if kind is OptionKind.CHOICE:
        return Literal[option.choices]
    if kind in (OptionKind.DURATION, OptionKind.DATETIME):
        return app_commands.Range[str, 1, TEXT_INPUT]
    return _ranged(str, option)


def to_raw(option: Option, value: Any) -> Any:
    """A discord.py argument as the domain's type (refs for members, channels, ...)."""
    if value is None:
        return None
    kind = option.kind
    if kind is OptionKind.MEMBER:
        return MemberRef(value.id, value.display_name)
    if kind is OptionKind.CHANNEL:
        return ChannelRef(value.id, getattr(value, "name", ""))
    if kind is OptionKind.ROLE:
        return RoleRef(value.id, value.name)
    if kind is OptionKind.ATTACHMENT:
        return AttachmentRef(value.filename, value.size, value.read)
    return value


def _default_permissions(access: Access) -> discord.Permissions | None:
    if not access.restricted:
        return None
    name = "moderate_members" if access == MODERATORS else access.permission
    try:
        return discord.Permissions(**{name: True})
    except TypeError:
        raise ValueError(f"unknown Discord permission {name!r}") from None


Runner = Callable[[discord.Interaction, Command, dict[str, Any]], Awaitable[None]]


def app_command(command: Command, run: Runner) -> app_commands.Command:
    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        await run(interaction, command, values)

    params = [inspect.Parameter("interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                annotation=discord.Interaction)]
    for option in command.options:
        kind = annotation(option)
        params.append(inspect.Parameter(
            option.name, inspect.Parameter.KEYWORD_ONLY,
            annotation=kind if option.required else Optional[kind],
            default=inspect.Parameter.empty if option.required else None))
    callback.__signature__ = inspect.Signature(params)
    callback.__qualname__ = callback.__name__ = f"cmd_{command.path.replace(' ', '_')}"
    app_commands.describe(**{o.name: o.description for o in command.options})(callback)
    built = app_commands.Command(name=command.name, description=command.description,
                                 callback=callback)
    if command.group is None:
        built.default_permissions = _default_permissions(command.access)
        built.guild_only = not command.dm_allowed
    return built


def build_commands(features: Features, run: Runner) -> list[app_commands.Command | app_commands.Group]:
    """Top-level commands and groups, ready for ``tree.add_command``."""
    built: list[app_commands.Command | app_commands.Group] = []
    for group, commands in features.groups().items():
        if group is None:
            built.extend(app_command(c, run) for c in commands)
            continue
        accesses = {c.access for c in commands}
        if len(accesses) == 1:
            common = accesses.pop()
        elif MODERATORS in accesses and all(a.restricted for a in accesses):
            common = MODERATORS  # a moderators' group with a stricter command or two
        else:
            common = Access()
        node = app_commands.Group(
            name=group, description=f"{group.capitalize()} commands",
            default_permissions=_default_permissions(common),
            guild_only=all(not c.dm_allowed for c in commands))
        subgroups: dict[str, app_commands.Group] = {}
        for command in commands:
            parent = node
            if " " in command.group:
                sub = command.group.split(" ")[1]
                if sub not in subgroups:
                    subgroups[sub] = app_commands.Group(name=sub, description=f"{sub.capitalize()} commands",
                                                        parent=node)
                parent = subgroups[sub]
            parent.add_command(app_command(command, run))
        built.append(node)
    return built


def guild_tz(interaction: discord.Interaction) -> tzinfo:
    """The guild's time zone for dates typed in a command (UTC before the runtime is up)."""
    runtime = getattr(interaction.client, "runtime", None)
    return runtime.services.guilds.tz(interaction.guild_id) if runtime else timezone.utc


async def run_interaction(interaction: discord.Interaction, command: Command,
                          values: dict[str, Any]) -> None:
    """Check, defer, run, answer: see the module docstring."""
    raw = {o.name: to_raw(o, values.get(o.name)) for o in command.options}
    prepared = prepare(command, caller_of(interaction), raw, guild_tz(interaction))
    if isinstance(prepared, Reply):
        await interaction.response.send_message(ephemeral=True, **send_kwargs(prepared))
        return
    await interaction.response.defer(ephemeral=command.private, thinking=True)
    reply = await invoke(prepared)
    if reply.private != command.private:
        await interaction.delete_original_response()  # the deferred note had the other privacy
    await interaction.followup.send(ephemeral=bool(reply.private), **send_kwargs(reply))


def context_menu(command: MessageCommand) -> app_commands.ContextMenu:
    """A message command as a context menu ("Apps" on a message), guild-only."""

    async def callback(interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        ref = MessageRef(message.id, message.channel.id, message.author.id,
                         message.author.display_name, message.content,
                         int(message.created_at.timestamp() * 1000),
                         tuple(a.filename for a in message.attachments), message.author.bot)
        reply = await run_message_command(command, caller_of(interaction), ref)
        await interaction.followup.send(ephemeral=True, **send_kwargs(reply))

    menu = app_commands.ContextMenu(name=command.name, callback=callback)
    menu.default_permissions = _default_permissions(command.access)
    menu.guild_only = True
    return menu


async def on_tree_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
    """A short private note instead of "The application did not respond"."""
    if isinstance(error, app_commands.TransformerError):
        note = f"That {error.type.name.lower()} didn't work here: {error.value!r}."
    else:
        log.error("slash command failed: %s", error, exc_info=error)
        note = "Sorry, that didn't work. Please try again later, or tell a moderator."
    try:
        if interaction.response.is_done():
            await interaction.followup.send(note, ephemeral=True,
                                            allowed_mentions=discord.AllowedMentions.none())
        else:
            await interaction.response.send_message(note, ephemeral=True,
                                                    allowed_mentions=discord.AllowedMentions.none())
    except discord.HTTPException:
        log.warning("could not tell the member about the failed command")
