"""What a feature declares, and the registry of the features the runtime loaded.

A feature is a module under ``bot/features/`` with ``setup(services) -> Feature``, like a
discord.py extension's ``setup(bot)``. The ``FEATURES`` setting lists them in load order
(RoboDanny's ``initial_extensions``); they stop in reverse order. A feature declares:
  * ``commands``, ``message_commands`` (run on a message, from its menu) and
    ``components`` (button and select handlers, by custom-id route);
  * message ``hooks`` by pipeline stage, plus ``on_edit``/``on_delete``;
  * output ``guards`` that generated text must pass;
  * background ``jobs``;
  * ``on_guild_event``: a guild scheduled event was moved or cancelled on the platform
    (an event's reminders follow it);
  * ``data``: which member-data columns it owns and how to export and delete a member's
    rows (after Red's ``red_get_data_for_user``/``red_delete_data_for_user``), so a privacy
    request is answered from every feature without a hand-kept list.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.config import ConfigError, Settings
from bot.core.commands import MAX_MESSAGE_COMMANDS, Command, MessageCommand
from bot.core.guilds import GuildSettings
from bot.core.jobs import Job
from bot.core.members import MemberActions, NoMemberActions
from bot.core.pipeline import DeleteHandler, EditHandler, MessageHook, OutputGuard, Pipeline
from bot.core.posting import Poster
from bot.core.replies import ComponentRoute
from bot.model import ChatModel
from bot.store import Archive, ArchiveWriter, Database

log = logging.getLogger(__name__)

FEATURE_PACKAGE = "bot.features"


# guild id, event id, its start and end now (None: unchanged), whether it was cancelled
GuildEventHandler = Callable[[int, int, datetime | None, datetime | None, bool], Awaitable[None]]


@dataclass(frozen=True)
class DataHooks:
    """A feature's member data. ``covers`` names each ``table.column`` that holds a member's
    user id in rows this feature owns; ``export(guild, user)`` returns them as JSON-ready
    data and ``delete(guild, user)`` removes them, returning how many rows went. ``guild``
    is the storage key (``bot.store.DM_GUILD`` for direct messages)."""

    covers: tuple[str, ...]
    export: Callable[[int, int], Awaitable[Any]]
    delete: Callable[[int, int], Awaitable[int]]


@dataclass(frozen=True)
class Feature:
    name: str
    commands: tuple[Command, ...] = ()
    message_commands: tuple[MessageCommand, ...] = ()
    components: tuple[ComponentRoute, ...] = ()
    hooks: tuple[MessageHook, ...] = ()
    on_edit: EditHandler | None = None
    on_delete: DeleteHandler | None = None
    guards: tuple[OutputGuard, ...] = ()
    jobs: tuple[Job, ...] = ()
    data: DataHooks | None = None
    on_guild_event: GuildEventHandler | None = None
    stop: Callable[[], Awaitable[None]] | None = None  # at shutdown, before jobs are cancelled
    requires: tuple[str, ...] = ()  # features that must be loaded before this one
    precedes: tuple[str, ...] = ()  # features that, if loaded, must come after this one


@dataclass
class Services:
    """What the runtime hands every feature's ``setup``: shared, started, owned by it."""

    settings: Settings
    db: Database
    archive: Archive
    writer: ArchiveWriter
    model: ChatModel
    guilds: GuildSettings
    pipeline: Pipeline
    poster: Poster
    bot_user_id: int
    bot_name: str
    members: MemberActions = field(default_factory=NoMemberActions)
    # Loads the sentiment classifier (blocking: the insights feature calls it on its own
    # thread); None: the one the settings name (``bot.insights.models``). Tests pass theirs.
    classifier: Callable[[], Any] | None = None
    # The loaded features, set once all are set up (a privacy request asks every one).
    features: Features | None = None


class FeatureError(ConfigError):
    """A feature list or declaration that cannot work; one line naming the culprit."""


class Features:
    """The loaded features, in load order, with lookups both adapters use."""

    def __init__(self, features: Sequence[Feature]) -> None:
        self.features = list(features)
        self.commands: list[Command] = []
        self._by_path: dict[str, Command] = {}
        self._routes: dict[str, ComponentRoute] = {}
        self.message_commands: dict[str, MessageCommand] = {}
        groups: set[str] = set()
        for feature in self.features:
            for command in feature.commands:
                if command.path in self._by_path:
                    raise FeatureError(f"feature {feature.name}: /{command.path} is declared twice")
                self._by_path[command.path] = command
                self.commands.append(command)
                if command.group:
                    groups.add(command.group.split(" ")[0])
            for action in feature.message_commands:
                if action.name.casefold() in map(str.casefold, self.message_commands):
                    raise FeatureError(f"feature {feature.name}: message command {action.name!r} "
                                       "is declared twice")
                self.message_commands[action.name] = action
            for route in feature.components:
                if route.route in self._routes:
                    raise FeatureError(f"feature {feature.name}: component route {route.route} is taken")
                self._routes[route.route] = route
        if len(self.message_commands) > MAX_MESSAGE_COMMANDS:
            raise FeatureError(f"Discord allows {MAX_MESSAGE_COMMANDS} message commands; the "
                               f"features declare {len(self.message_commands)}")
        clash = groups & {c.name for c in self.commands if c.group is None}
        if clash:
            raise FeatureError(f"/{sorted(clash)[0]} is both a command and a command group")

    def command(self, path: str) -> Command | None:
        return self._by_path.get(" ".join(path.split()))

    def route(self, name: str) -> ComponentRoute | None:
        return self._routes.get(name)

    def groups(self) -> dict[str | None, list[Command]]:
        """Commands by top-level group (None: the top-level commands), subgroups included."""
        grouped: dict[str | None, list[Command]] = {}
        for command in self.commands:
            grouped.setdefault(command.group and command.group.split(" ")[0], []).append(command)
        return grouped

    async def export_member(self, guild: int, user_id: int) -> dict[str, Any]:
        """Everything the features store about a member in one guild, by feature."""
        data: dict[str, Any] = {"user_id": str(user_id), "guild_id": str(guild)}
        for feature in self.features:
            if feature.data is not None:
                data[feature.name] = await feature.data.export(guild, user_id)
        return data

    async def delete_member(self, guild: int, user_id: int) -> dict[str, int]:
        """Erase a member's data in one guild from every feature, in reverse load order
        (a later feature's rows may point at an earlier one's); rows deleted per feature."""
        counts = {}
        for feature in reversed(self.features):
            if feature.data is not None:
                counts[feature.name] = await feature.data.delete(guild, user_id)
        return counts

    async def guild_event(self, guild_id: int, event_id: int, start: datetime | None,
                          end: datetime | None, cancelled: bool) -> None:
        """A guild scheduled event changed on the platform; each feature that cares is told,
        and one failing does not keep the rest from hearing it."""
        for feature in self.features:
            if feature.on_guild_event is not None:
                try:
                    await feature.on_guild_event(guild_id, event_id, start, end, cancelled)
                except Exception:
                    log.exception("feature %s failed to follow event %d", feature.name, event_id)

    async def stop(self) -> None:
        """Stop features in reverse load order; one failing does not keep the rest running."""
        for feature in reversed(self.features):
            if feature.stop is not None:
                try:
                    await feature.stop()
                except Exception:
                    log.exception("feature %s failed to stop cleanly", feature.name)


def load_features(names: Sequence[str], services: Services) -> Features:
    """Import and set up ``bot.features.<name>`` for each name, in order."""
    loaded: list[Feature] = []
    for name in names:
        try:
            module = importlib.import_module(f"{FEATURE_PACKAGE}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{FEATURE_PACKAGE}.{name}":
                raise
            raise FeatureError(f"FEATURES: no feature called {name!r}") from None
        feature = module.setup(services)
        names_so_far = {f.name for f in loaded}
        missing = [r for r in feature.requires if r not in names_so_far]
        if missing:
            raise FeatureError(f"FEATURES: {name} needs {missing[0]} loaded before it")
        early = [p for p in feature.precedes if p in names_so_far]
        if early:
            raise FeatureError(f"FEATURES: {name} must come before {early[0]}")
        services.pipeline.add(feature.name, feature.hooks, feature.on_edit, feature.on_delete,
                              feature.guards)
        loaded.append(feature)
        log.info("feature %s loaded", feature.name)
    services.features = Features(loaded)
    return services.features
