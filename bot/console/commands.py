"""Parsing ``/group sub arg=value ...`` against the declared commands.

Values may be quoted (``text="two words"``); a value without ``name=`` fills the next
option in declared order, so ``/memory ana`` works as well as ``/memory member=ana``.
Members, channels and roles are resolved here, against the simulated guild: only this
adapter knows who exists in it. Everything else is checked by ``bot.core.commands``, the
same code the Discord adapter uses.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from pathlib import Path

from bot.console.world import CHANNELS, ROLES, member_id
from bot.core.commands import (ArgumentError, AttachmentRef, ChannelRef, Command, MemberRef,
                               Option, OptionKind, RoleRef)
from bot.core.feature import Features


_OPTION_LIKE = re.compile(r"^[a-z][a-z0-9_]*$")


class UnknownCommand(Exception):
    pass


def split_command(features: Features, line: str,
                  visible: Sequence[Command]) -> tuple[Command, list[str]]:
    """The command a line names and its remaining words; raises ``UnknownCommand``, which
    lists the ``visible`` commands (those the caller may run: a member is not shown the
    moderators' commands)."""
    try:
        words = shlex.split(line)
    except ValueError as exc:
        raise UnknownCommand(f"Cannot read that command: {exc}.") from None
    for length in (3, 2, 1):
        if len(words) >= length:
            command = features.command(" ".join(words[:length]))
            if command is not None:
                return command, words[length:]
    names = ", ".join(f"/{c.path}" for c in visible)
    raise UnknownCommand(f"Unknown command /{words[0] if words else ''}. Commands: {names}, /help.")


def raw_arguments(command: Command, words: list[str], roster: set[str]) -> dict[str, object]:
    """Name each word's option and resolve refs; raises ``ArgumentError``."""
    raw: dict[str, object] = {}
    positional = iter(command.options)
    for word in words:
        name, sep, value = word.partition("=")
        if sep and name in {o.name for o in command.options}:
            option = next(o for o in command.options if o.name == name)
        elif sep and _OPTION_LIKE.match(name):
            raise ArgumentError(name, f"/{command.path} has no such option (usage: {command.usage()})")
        else:
            option = next((o for o in positional if o.name not in raw), None)
            if option is None:
                raise ArgumentError(word.split("=")[0], f"/{command.path} takes no more "
                                    f"arguments (usage: {command.usage()})")
            value = word
        if option.name in raw:
            raise ArgumentError(option.name, "given twice")
        raw[option.name] = resolve(option, value, roster)
    return raw


def resolve(option: Option, value: str, roster: set[str]) -> object:
    kind = option.kind
    if kind is OptionKind.MEMBER:
        name = value.lstrip("@")
        if name.lower() not in roster:
            raise ArgumentError(option.name, f"no member called {name!r} here")
        return MemberRef(member_id(name), name)
    if kind is OptionKind.CHANNEL:
        return ChannelRef(*_lookup(option, value, CHANNELS, "#", "channel"))
    if kind is OptionKind.ROLE:
        return RoleRef(*_lookup(option, value, ROLES, "@", "role"))
    if kind is OptionKind.ATTACHMENT:
        try:
            path = Path(value).expanduser()
            found = path.is_file()
        except (RuntimeError, OSError, ValueError):  # "~nobody/x", a path too long, a NUL
            found = False
        if not found:
            raise ArgumentError(option.name, f"no file at {value}")

        async def read() -> bytes:
            return path.read_bytes()

        return AttachmentRef(path.name, path.stat().st_size, read)
    return value


def _lookup(option: Option, value: str, known: dict[str, int], sigil: str,
            noun: str) -> tuple[int, str]:
    """(id, name) of a ``#channel`` or ``@role`` of the simulated guild."""
    name = value.lstrip(sigil).lower()
    if name not in known:
        raise ArgumentError(option.name, f"no {noun} {sigil}{name}; {noun}s: "
                            + ", ".join(f"{sigil}{k}" for k in known))
    return known[name], name
