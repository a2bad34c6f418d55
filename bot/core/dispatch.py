"""Running a command or a component press: the steps both adapters share.

1. The access check, at call time (Discord's ``default_permissions`` is only a default
   that server admins can change). A denied caller gets a private answer naming the
   missing permission, and the handler never runs.
2. Argument conversion (``commands.convert_all``): a bad value gets a one-line private
   error naming the option.
3. The handler. If it raises, the error is logged and the caller gets a short note: a
   command never surfaces a traceback, and never crashes the bot.
Text is cut to Discord's 2,000 characters here, so no adapter can post a longer message.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from datetime import timezone, tzinfo
from typing import Any

from bot.core.commands import (ArgumentError, Caller, Command, Invocation, MessageCommand,
                               MessageRef, convert_all)
from bot.core.feature import Features
from bot.core.replies import Press, Reply, split_custom_id
from bot.core.text import DISCORD_LIMIT

log = logging.getLogger(__name__)

FAILED = "Sorry, that didn't work. Please try again later, or tell a moderator."
STALE = "That button no longer does anything."
NOT_IN_DMS = "This command works in a server, not in direct messages."


def denied(access_text: str, what: str) -> Reply:
    return Reply(f"You need {access_text} to use {what}.", private=True)


def fit(reply: Reply, private_default: bool) -> Reply:
    """The reply with its privacy decided and its text within one Discord message."""
    text = reply.text
    if len(text) > DISCORD_LIMIT:
        text = text[: DISCORD_LIMIT - 1] + "…"
    private = private_default if reply.private is None else reply.private
    return dataclasses.replace(reply, text=text, private=private)


def prepare(command: Command, caller: Caller, raw: Mapping[str, Any],
            tz: tzinfo = timezone.utc) -> Invocation | Reply:
    """Steps 1 and 2: the invocation, or the private refusal to send instead. Cheap (no
    database), so an adapter can refuse before it acknowledges the interaction."""
    if caller.guild_id is None and not command.dm_allowed:
        return Reply(NOT_IN_DMS, private=True)
    if not command.access.allows(caller.permissions):
        return denied(command.access.describe(), f"/{command.path}")
    try:
        return Invocation(command, caller, convert_all(command, raw, tz), tz)
    except ArgumentError as exc:
        return Reply(str(exc), private=True)


async def invoke(inv: Invocation) -> Reply:
    """Step 3: the handler's reply, or a short note if it failed."""
    try:
        reply = await inv.command.handler(inv)
    except Exception:
        log.exception("/%s failed for user %d", inv.command.path, inv.caller.user_id)
        return Reply(FAILED, private=True)
    return fit(reply, inv.command.private)


async def run_command(command: Command, caller: Caller, raw: Mapping[str, Any],
                      tz: tzinfo = timezone.utc) -> Reply:
    prepared = prepare(command, caller, raw, tz)
    return prepared if isinstance(prepared, Reply) else await invoke(prepared)


async def press(features: Features, caller: Caller, custom_id: str,
                values: tuple[str, ...] = (), message_id: int | None = None,
                form: Mapping[str, str] | None = None) -> Reply:
    parts = split_custom_id(custom_id)
    route = features.route(parts[0]) if parts is not None else None
    if route is None:
        return Reply(STALE, private=True)
    if not route.access.allows(caller.permissions):
        return denied(route.access.describe(), "this button")
    try:
        reply = await route.handler(Press(caller, parts[0], parts[1], values, message_id,
                                          dict(form or {})))
    except Exception:
        log.exception("component %s failed for user %d", custom_id, caller.user_id)
        return Reply(FAILED, private=True)
    return fit(reply, True)


async def run_message_command(command: MessageCommand, caller: Caller, message: MessageRef) -> Reply:
    """A message command: the same access check first, then the handler; always private."""
    if caller.guild_id is None:
        return Reply(NOT_IN_DMS, private=True)
    if not command.access.allows(caller.permissions):
        return denied(command.access.describe(), repr(command.name))
    try:
        reply = await command.handler(caller, message)
    except Exception:
        log.exception("message command %r failed for user %d", command.name, caller.user_id)
        return Reply(FAILED, private=True)
    return fit(dataclasses.replace(reply, private=True), True)
