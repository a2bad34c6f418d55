"""Settings from the environment and an optional ``.env`` file, checked once at startup.

Every value is validated here so a typo stops the bot with one line naming the key, instead
of surfacing later as a confusing runtime error. The process environment wins over
``.env`` (that is how containers and CI override a checked-in file); empty values count as
unset, so a blank ``KEY=`` or an empty exported variable means "use the default" and cannot
mask the file by accident.

The Discord token is never echoed: it is left out of ``repr``, ``describe()`` only says
whether it is set, and errors about it describe the problem without the value.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo

from dotenv import dotenv_values
from dotenv.parser import parse_stream

T = TypeVar("T")
N = TypeVar("N", int, float)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Load order; bot/features/ holds one module each. Kept here, not imported from there,
# so reading settings never imports the features.
DEFAULT_FEATURES = ("privacy", "archive", "memory", "chat", "knowledge", "moderation", "announcements",
                    "events", "topics", "insights", "settings")
MAX_PERSONA_CHARS = 4000
MAX_SNOWFLAKE = 2**63 - 1  # SQLite INTEGER is signed 64-bit; Discord ids stay below this

DEFAULT_PERSONA = (
    "You are the community helper in this shop's Discord server. Answer questions about "
    "products, sizing, orders, shipping and returns briefly and kindly. If you are not sure, "
    "say so and suggest asking the staff; never invent prices, stock levels or order details."
)


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line naming the key."""


@dataclass(frozen=True)
class AnswerChannels:
    """Where the bot answers without being mentioned (mentions, replies and DMs always work)."""

    everywhere: bool = False
    ids: frozenset[int] = frozenset()
    names: frozenset[str] = frozenset()

    def includes(self, channel_id: int, channel_name: str) -> bool:
        return self.everywhere or channel_id in self.ids or channel_name.lower() in self.names


@dataclass(frozen=True)
class Settings:
    discord_token: str | None = field(repr=False)  # None: console mode, no Discord
    database_path: Path
    data_dir: Path
    model_dir: Path | None
    model_template: str | None  # MODEL_TEMPLATE: overrides the folder's chat template
    model_trusted: bool  # MODEL_TRUSTED: let the model word factual answers (then fact-checked)
    sentiment_model: Path | None  # SENTIMENT_MODEL: a classifier folder; None: the bundled one
    answer_channels: AnswerChannels
    dev_guild_id: int | None
    modlog_default: int | str | None  # MODLOG_CHANNEL: an id or a name; /mod modlog channel wins
    timezone: str  # TIMEZONE: an IANA zone for dates typed in commands; /settings timezone wins
    persona: str
    reply_ping: bool
    member_cooldown_s: float
    channel_concurrency: int
    max_new_tokens: int
    context_messages: int
    log_level: str
    features: tuple[str, ...]

    @property
    def console_mode(self) -> bool:
        return self.discord_token is None

    def describe(self) -> str:
        """One line for the startup log, safe to print: the token shows only as set/not set."""
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "discord_token":
                value = "not set (console mode)" if value is None else "set"
            elif f.name == "persona":
                value = "default" if value == DEFAULT_PERSONA else f"custom ({len(value)} chars)"
            parts.append(f"{f.name}={value}")
        return " ".join(parts)


def load_settings(
    env_file: str | Path | None = ".env", environ: Mapping[str, str] = os.environ
) -> Settings:
    """Merge ``env_file`` (if it exists) under ``environ`` and validate every key."""
    values = _read_env_file(Path(env_file)) if env_file is not None else {}
    values.update({key: value for key, value in environ.items() if value.strip()})

    def get(key: str, parse: Callable[[str, str], T], default: T) -> T:
        raw = values.get(key, "").strip()
        return parse(key, raw) if raw else default

    data_dir = get("DATA_DIR", _directory_path, Path("data"))
    return Settings(
        discord_token=get("DISCORD_TOKEN", _token, None),
        database_path=get("DATABASE_PATH", _file_path, data_dir / "bot.db"),
        data_dir=data_dir,
        model_dir=get("MODEL_DIR", _existing_directory, None),
        model_template=get("MODEL_TEMPLATE", _template, None),
        model_trusted=get("MODEL_TRUSTED", _bool, False),
        sentiment_model=get("SENTIMENT_MODEL", _existing_directory, None),
        answer_channels=get("ANSWER_CHANNELS", _answer_channels, AnswerChannels()),
        dev_guild_id=get("DEV_GUILD_ID", _snowflake, None),
        modlog_default=get("MODLOG_CHANNEL", _channel, None),
        timezone=get("TIMEZONE", _timezone, "UTC"),
        persona=get("PERSONA", _persona, DEFAULT_PERSONA),
        reply_ping=get("REPLY_PING", _bool, False),
        member_cooldown_s=get("MEMBER_COOLDOWN_S", _number(float, 0, 3600), 10.0),
        channel_concurrency=get("CHANNEL_CONCURRENCY", _number(int, 1, 32), 2),
        max_new_tokens=get("MAX_NEW_TOKENS", _number(int, 1, 2000), 200),
        context_messages=get("CONTEXT_MESSAGES", _number(int, 0, 200), 20),
        log_level=get("LOG_LEVEL", _log_level, "INFO"),
        features=get("FEATURES", _features, DEFAULT_FEATURES),
    )


def _timezone(key: str, raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise ConfigError(f"{key}: {raw!r} is not a time zone; use a name like Europe/Berlin "
                          "or America/New_York") from None
    return raw


def _read_env_file(path: Path) -> dict[str, str]:
    """Parse a .env file strictly: a line dotenv cannot parse would otherwise be skipped
    with only a log warning, silently dropping a setting."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8-sig")  # -sig: editors on Windows prepend a BOM
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not a text .env file (invalid UTF-8 at byte {exc.start})") from None
    if "\x00" in text:
        raise ConfigError(f"{path}: not a text .env file (contains NUL bytes)")
    for binding in parse_stream(io.StringIO(text)):
        if binding.error or (binding.key is not None and not binding.key.isprintable()):
            raise ConfigError(f"{path}: line {binding.original.line} is not KEY=value")
    parsed = dotenv_values(stream=io.StringIO(text))
    return {key: value for key, value in parsed.items() if value is not None}


def _show(raw: str) -> str:
    return repr(raw if len(raw) <= 60 else raw[:57] + "...")


def _token(key: str, raw: str) -> str:
    # Never include `raw` in these messages.
    if any(ch.isspace() for ch in raw) or raw[0] in "'\"":
        raise ConfigError(f"{key}: contains spaces or quotes; paste only the token, without a "
                          "'Bot ' prefix (value not shown)")
    if raw.count(".") != 2 or not all(raw.split(".")):
        raise ConfigError(f"{key}: does not look like a bot token (expected three parts "
                          "separated by dots; value not shown)")
    return raw


def _file_path(key: str, raw: str) -> Path:
    path = Path(raw).expanduser()
    if path.is_dir():
        raise ConfigError(f"{key}: {_show(raw)} is a directory; give a file path such as data/bot.db")
    return path


def _directory_path(key: str, raw: str) -> Path:
    path = Path(raw).expanduser()
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{key}: {_show(raw)} exists and is not a directory")
    return path


def _existing_directory(key: str, raw: str) -> Path:
    path = Path(raw).expanduser()
    if not path.is_dir():
        raise ConfigError(f"{key}: no such directory: {_show(raw)}")
    return path


def _snowflake(key: str, raw: str) -> int:
    if not raw.isascii() or not raw.isdigit() or not 0 < int(raw) <= MAX_SNOWFLAKE:
        raise ConfigError(f"{key}: expected a Discord id (a positive whole number), got {_show(raw)}")
    return int(raw)


def _channel(key: str, raw: str) -> int | str:
    """A channel id, or a channel name with an optional leading '#', lower-cased."""
    if raw.isascii() and raw.isdigit():
        return _snowflake(key, raw)
    name = raw.removeprefix("#").lower()
    if not name or any(ch.isspace() for ch in name):
        raise ConfigError(f"{key}: expected a channel name or id, got {_show(raw)}")
    return name


def _answer_channels(key: str, raw: str) -> AnswerChannels:
    if raw.lower() == "all":
        return AnswerChannels(everywhere=True)
    refs = [_channel(key, item.strip()) for item in raw.split(",") if item.strip()]
    return AnswerChannels(
        ids=frozenset(r for r in refs if isinstance(r, int)),
        names=frozenset(r for r in refs if isinstance(r, str)),
    )


def parse_answer_channels(raw: str, key: str = "ANSWER_CHANNELS") -> AnswerChannels:
    """Parse the ANSWER_CHANNELS syntax; also used for ``guild_settings.answer_channels``."""
    return _answer_channels(key, raw.strip())


def _persona(key: str, raw: str) -> str:
    if len(raw) > MAX_PERSONA_CHARS:
        raise ConfigError(f"{key}: at most {MAX_PERSONA_CHARS} characters, got {len(raw)}")
    return raw


def _bool(key: str, raw: str) -> bool:
    lowered = raw.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{key}: expected true or false, got {_show(raw)}")


def _number(kind: Callable[[str], N], low: int, high: int) -> Callable[[str, str], N]:
    noun = "a whole number" if kind is int else "a number"

    def parse(key: str, raw: str) -> N:
        try:
            value = kind(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:  # also rejects nan
            raise ConfigError(f"{key}: expected {noun} between {low} and {high}, got {_show(raw)}")
        return value

    return parse


def _features(key: str, raw: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in raw.split(",") if name.strip())
    bad = [n for n in names if not n.isidentifier() or not n.islower()]
    if not names or bad:
        raise ConfigError(f"{key}: expected feature names separated by commas "
                          f"(default: {','.join(DEFAULT_FEATURES)}), got {_show(raw)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"{key}: a feature is listed twice in {_show(raw)}")
    return names


def _template(key: str, raw: str) -> str:
    from lm.chat import TEMPLATES

    if raw not in TEMPLATES:
        raise ConfigError(f"{key}: expected one of {', '.join(TEMPLATES)}, got {_show(raw)}")
    return raw


def _log_level(key: str, raw: str) -> str:
    if raw.upper() not in LOG_LEVELS:
        raise ConfigError(f"{key}: expected one of {', '.join(LOG_LEVELS)}, got {_show(raw)}")
    return raw.upper()
