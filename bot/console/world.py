"""The console's simulated guild: its channels, roles, members and Discord-style ids."""

from __future__ import annotations

import hashlib
import time

GUILD_ID = 1
BOT_ID = 2
BOT_NAME = "bot"
CHANNELS = {"general": 11, "support": 12, "announcements": 13, "mod-log": 14}
ROLES = {"moderators": 21, "members": 22}
DM = "dm"
DISCORD_EPOCH_MS = 1_420_070_400_000


def member_id(name: str) -> int:
    """A stable id per name, so memory survives console restarts on the same database."""
    digest = hashlib.sha256(name.lower().encode()).digest()
    return int.from_bytes(digest[:6], "big") + 1000


def channel_name(channel_id: int) -> str:
    return next((name for name, cid in CHANNELS.items() if cid == channel_id), str(channel_id))


class Snowflakes:
    """Discord-style ids: time-ordered and unique, also across runs on one database."""

    def __init__(self) -> None:
        self._last = 0

    def __call__(self) -> int:
        self._last = max(self._last + 1, (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22)
        return self._last
