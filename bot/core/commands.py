"""Commands declared once: name, group, typed options, who may run them, and privacy.

Both adapters render the same declarations (Discord as ``app_commands``, the console as
``name: /group sub arg=value``), and both send every argument through ``convert`` before a
handler runs, so a range, a length or a duration is checked by one piece of code whichever
way the member typed it. The access check runs at call time in both adapters too: Discord's
``default_permissions`` only sets who *sees* a command, and server admins can change that.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone, tzinfo
from enum import Enum
from typing import Any, TYPE_CHECKING

if TYPE_CHECKING:
    from bot.core.replies import Reply

MODERATOR_PERMISSIONS = ("moderate_members", "manage_guild")
# Discord resolves "administrator" to every permission; the console's --mods get it.
ADMINISTRATOR = "administrator"
NAME = re.compile(r"^[a-z0-9_-]{1,32}$")  # Discord's rule for command names
OPTION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")  # also a Python identifier, for app_commands
MAX_DESCRIPTION = 100


class OptionKind(Enum):
    MEMBER = "member"
    CHANNEL = "channel"
    ROLE = "role"
    STRING = "string"
    INTEGER = "integer"
    CHOICE = "choice"
    DURATION = "duration"
    DATETIME = "datetime"
    ATTACHMENT = "attachment"


@dataclass(frozen=True)
class Access:
    """Who may run a command: everyone, moderators, or holders of one Discord permission."""

    kind: str = "everyone"
    permission: str | None = None

    @classmethod
    def permission_named(cls, name: str) -> Access:
        return cls("permission", name)

    @property
    def restricted(self) -> bool:
        return self.kind != "everyone"

    def allows(self, permissions: frozenset[str]) -> bool:
        if self.kind == "everyone" or ADMINISTRATOR in permissions:
            return True
        if self.kind == "moderators":
            return any(p in permissions for p in MODERATOR_PERMISSIONS)
        return self.permission in permissions

    def describe(self) -> str:
        """What a denied caller lacks, in Discord's own words."""
        if self.kind == "moderators":
            return "the Timeout Members or Manage Server permission"
        words = (self.permission or "").replace("_", " ").title().replace("Guild", "Server")
        return f"the {words} permission"


EVERYONE = Access()
MODERATORS = Access("moderators")
MANAGE_SERVER = Access.permission_named("manage_guild")


@dataclass(frozen=True)
class Caller:
    """Who runs a command or presses a button, and where. ``permissions`` are the Discord
    permission names they hold in that channel (the console grants ``administrator`` to
    ``--mods``). ``guild_id`` is None in direct messages. In a thread, ``channel_id`` is
    its parent (where channel settings live) and ``thread_id`` the thread itself."""

    user_id: int
    name: str
    guild_id: int | None
    channel_id: int = 0
    permissions: frozenset[str] = frozenset()
    thread_id: int | None = None

    @property
    def where(self) -> int:
        """The channel or thread the caller is in: where "this channel" acts."""
        return self.thread_id or self.channel_id

    @property
    def is_moderator(self) -> bool:
        return MODERATORS.allows(self.permissions)


@dataclass(frozen=True)
class MemberRef:
    user_id: int
    name: str


@dataclass(frozen=True)
class ChannelRef:
    channel_id: int
    name: str


@dataclass(frozen=True)
class RoleRef:
    role_id: int
    name: str


@dataclass(frozen=True)
class AttachmentRef:
    """An uploaded file. ``read`` fetches its bytes (a download on Discord, a local file
    in the console); ``size`` is known before reading, so a handler can refuse huge files."""

    filename: str
    size: int
    read: Callable[[], Awaitable[bytes]] = field(compare=False, repr=False)


class ArgumentError(Exception):
    """A bad argument; ``str()`` is the one line shown to the member, naming the option."""

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(f"{option}: {problem}")
        self.option = option


@dataclass(frozen=True)
class Option:
    """One typed argument. ``low``/``high`` bound an integer's value, a string's length or
    a duration's seconds; ``choices`` lists a choice option's values."""

    name: str
    kind: OptionKind
    description: str
    required: bool = True
    low: int | None = None
    high: int | None = None
    choices: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not OPTION_NAME.match(self.name):
            raise ValueError(f"option name {self.name!r}: a lower-case letter, then up to 31 of a-z, 0-9, _")
        if not 0 < len(self.description) <= MAX_DESCRIPTION:
            raise ValueError(f"option {self.name}: description must be 1-{MAX_DESCRIPTION} characters")
        if (self.kind is OptionKind.CHOICE) != bool(self.choices):
            raise ValueError(f"option {self.name}: choices belong to (and are needed by) choice options")
        if len(self.choices) > 25:
            raise ValueError(f"option {self.name}: Discord allows at most 25 choices")
        if self.kind is OptionKind.STRING:
            low = 0 if self.low is None else self.low
            high = 6000 if self.high is None else self.high
            if not (0 <= low and 1 <= high <= 6000):
                raise ValueError(f"option {self.name}: string lengths run from 0 to 6000 "
                                 "(a maximum of at least 1)")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"option {self.name}: low is above high")


Handler = Callable[["Invocation"], Awaitable["Reply"]]


@dataclass(frozen=True)
class Command:
    """A slash command. ``group`` makes it ``/group name``. ``private`` answers are seen
    only by the caller (ephemeral on Discord). Restricted commands do not run in DMs,
    where there are no permissions to check."""

    name: str
    description: str
    handler: Handler = field(compare=False, repr=False)
    group: str | None = None  # "mod", or "mod case" for /mod case show
    options: tuple[Option, ...] = ()
    access: Access = EVERYONE
    private: bool = True

    def __post_init__(self) -> None:
        groups = (self.group or "").split(" ")
        if self.group is not None and len(groups) > 2:
            raise ValueError(f"/{self.path}: at most a group and a subgroup (Discord's limit)")
        for part in (self.name, *(groups if self.group is not None else ())):
            if not NAME.match(part):
                raise ValueError(f"command name {part!r}: 1-32 lower-case letters, digits, - or _")
        if not 0 < len(self.description) <= MAX_DESCRIPTION:
            raise ValueError(f"/{self.path}: description must be 1-{MAX_DESCRIPTION} characters")
        names = [o.name for o in self.options]
        if len(set(names)) != len(names):
            raise ValueError(f"/{self.path}: two options share a name")
        required = [o.required for o in self.options]
        if required != sorted(required, reverse=True):
            raise ValueError(f"/{self.path}: required options must come before optional ones")

    @property
    def path(self) -> str:
        """``group [subgroup] name`` or ``name``: how members type it after the slash."""
        return f"{self.group} {self.name}" if self.group else self.name

    @property
    def dm_allowed(self) -> bool:
        return not self.access.restricted

    def usage(self) -> str:
        parts = [f"/{self.path}"]
        for o in self.options:
            parts.append(f"{o.name}=…" if o.required else f"[{o.name}=…]")
        return " ".join(parts)


@dataclass(frozen=True)
class MessageRef:
    """The message a message command was run on. ``channel_id`` is where it is (a thread's
    own id inside a thread), ``attachments`` its file names."""

    message_id: int
    channel_id: int
    author_id: int
    author_name: str
    content: str
    created_at: int  # unix ms UTC
    attachments: tuple[str, ...] = ()
    author_is_bot: bool = False


MessageHandler = Callable[[Caller, MessageRef], Awaitable["Reply"]]
MAX_MESSAGE_COMMANDS = 5  # Discord's limit on message context-menu commands per app


@dataclass(frozen=True)
class MessageCommand:
    """A command on a message (Discord: the message's Apps menu), such as "Report to
    moderators". The name is what the menu shows. Guild-only; its answer is private."""

    name: str
    handler: MessageHandler = field(compare=False, repr=False)
    access: Access = EVERYONE

    def __post_init__(self) -> None:
        if not 0 < len(self.name) <= 32 or self.name != " ".join(self.name.split()):
            raise ValueError(f"message command name {self.name!r}: 1-32 characters, single spaces")


@dataclass(frozen=True)
class Invocation:
    """One run of a command: who, the converted arguments, and the guild's time zone."""

    command: Command
    caller: Caller
    args: Mapping[str, Any]
    tz: tzinfo = timezone.utc

    def get(self, name: str, default: Any = None) -> Any:
        return self.args.get(name, default)


# Conversion ---------------------------------------------------------------------------------

MAX_DURATION_S = 10 * 365 * 86_400
_DURATION_PART = re.compile(r"(\d{1,6})\s*(w|d|h|m|s)", re.I)
_UNITS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_DATETIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S",
                     "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


def parse_duration(text: str) -> timedelta:
    """``90m``, ``1h30m``, ``2d``, ``1w`` (units w, d, h, m, s); raises ValueError."""
    compact = text.strip().lower().replace(" ", "")
    if not compact:
        raise ValueError("empty duration")
    pos, seconds = 0, 0
    for match in _DURATION_PART.finditer(compact):
        if match.start() != pos:
            break
        seconds += int(match[1]) * _UNITS[match[2].lower()]
        pos = match.end()
    if pos != len(compact):
        raise ValueError(f"{_short(text)} is not a duration like 30m, 2h or 1d12h")
    if seconds > MAX_DURATION_S:
        raise ValueError(f"{_short(text)} is longer than 10 years")
    return timedelta(seconds=seconds)


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:37] + "...")


def parse_datetime(text: str, tz: tzinfo) -> datetime:
    """``YYYY-MM-DD HH:MM`` in ``tz`` (or with an explicit ISO offset); an aware datetime."""
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        value = None
        for fmt in _DATETIME_FORMATS:
            try:
                value = datetime.strptime(raw, fmt)
                break
            except ValueError:
                continue
    if value is None:
        raise ValueError(f"{text!r} is not a date and time like 2026-12-24 18:00")
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def _within(option: Option, number: int, what: str) -> None:
    if option.low is not None and number < option.low:
        raise ArgumentError(option.name, f"{what} must be at least {option.low}, got {number}")
    if option.high is not None and number > option.high:
        raise ArgumentError(option.name, f"{what} must be at most {option.high}, got {number}")


def convert(option: Option, value: Any, tz: tzinfo = timezone.utc) -> Any:
    """Check (and, for text input, parse) one argument; raises ``ArgumentError``.

    Adapters resolve members, channels, roles and attachments to refs themselves (only
    they know who exists); everything else may arrive as text and is parsed here.
    """
    kind = option.kind
    if kind in (OptionKind.MEMBER, OptionKind.CHANNEL, OptionKind.ROLE, OptionKind.ATTACHMENT):
        return value
    if kind is OptionKind.INTEGER:
        if isinstance(value, str):
            try:
                value = int(value.strip())
            except ValueError:
                raise ArgumentError(option.name, f"expected a whole number, got {value!r}") from None
        _within(option, value, "the value")
        return value
    if kind is OptionKind.DURATION:
        try:
            duration = parse_duration(value) if isinstance(value, str) else value
        except (ValueError, OverflowError) as exc:
            raise ArgumentError(option.name, str(exc)) from None
        _within(option, int(duration.total_seconds()), "the duration in seconds")
        return duration
    if kind is OptionKind.DATETIME:
        try:
            return parse_datetime(value, tz) if isinstance(value, str) else value
        except ValueError as exc:
            raise ArgumentError(option.name, str(exc)) from None
    text = str(value)
    if kind is OptionKind.CHOICE:
        if text not in option.choices:
            raise ArgumentError(option.name, f"expected one of {', '.join(option.choices)}, got {text!r}")
        return text
    _within(option, len(text), "the length")
    return text


def convert_all(command: Command, raw: Mapping[str, Any], tz: tzinfo = timezone.utc) -> dict[str, Any]:
    """All of a command's arguments, checked; missing optional ones are left out."""
    unknown = sorted(set(raw) - {o.name for o in command.options})
    if unknown:
        raise ArgumentError(unknown[0], f"/{command.path} has no such option "
                            f"(usage: {command.usage()})")
    args = {}
    for option in command.options:
        if option.name in raw and raw[option.name] is not None:
            args[option.name] = convert(option, raw[option.name], tz)
        elif option.required:
            raise ArgumentError(option.name, f"required (usage: {command.usage()})")
    return args


def commands_for(caller: Caller, commands: Sequence[Command]) -> list[Command]:
    """The commands ``caller`` may run where they are, for /help."""
    dm = caller.guild_id is None
    return [c for c in commands if c.access.allows(caller.permissions) and (c.dm_allowed or not dm)]
