"""A guild's automod rules: the defaults, the shop's own domains, and what its moderators
changed (``automod_rules``, migration 0007)."""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from urllib.parse import urlsplit

from bot.moderation.config import DEFAULTS, RuleConfig, RuleError, RuleSet, apply, defaults, from_row
from bot.kb import KnowledgeBase
from bot.moderation.rules import links_in
from bot.store import Database

log = logging.getLogger(__name__)


class RuleStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._kb = KnowledgeBase(db)
        self._domains: dict[int, tuple[tuple, list[str]]] = {}

    async def shop_domains(self, guild_id: int) -> list[str]:
        """The domains the shop's own knowledge base links to (product links, and any link
        an FAQ answer gives): allowed, and guarded from look-alikes. Cached per version
        of the knowledge base, since the guard asks for every generated reply."""
        version = await self._kb.version(guild_id)
        cached = self._domains.get(guild_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        hosts: set[str] = set()
        for stored in (await self._kb.listing(guild_id)).entries:
            e = stored.entry
            if e.url:
                hosts.add((urlsplit(e.url).hostname or "").removeprefix("www."))
            hosts.update(host for host, _ in links_in(f"{e.title} {e.body}"))
        domains = sorted(h for h in hosts if h)
        self._domains[guild_id] = (version, domains)
        return domains

    async def load(self, guild_id: int) -> RuleSet:
        rules = defaults(await self.shop_domains(guild_id))
        for row in await self._db.fetchall(
                "SELECT rule, settings FROM automod_rules WHERE guild_id = ?", (guild_id,)):
            try:
                stored = from_row(row[0], row[1])
            except RuleError as exc:  # a newer version's rule, or a hand-edited row
                log.warning("guild %d: ignoring stored automod settings: %s", guild_id, exc)
                continue
            rules[row[0]] = _with_shop(stored, rules.get(row[0]))
        return rules

    async def change(self, guild_id: int, rule: str, changes: dict, by: int | None) -> RuleConfig:
        """Validate and store ``changes`` on top of what the guild already changed."""
        if rule not in DEFAULTS:
            raise RuleError(f"{rule}: no such rule (rules: {', '.join(DEFAULTS)})")
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "SELECT settings FROM automod_rules WHERE guild_id = ? AND rule = ?", (guild_id, rule))
            row = await cursor.fetchone()
            held = json.loads(row[0]) if row else {}
            merged = {**held, **changes}
            if "params" in held and "params" in changes:
                merged["params"] = {**held["params"], **changes["params"]}
            config = apply(rule, DEFAULTS[rule], merged)  # raises before anything is written
            await conn.execute(
                "INSERT INTO automod_rules (guild_id, rule, settings, updated_by, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id, rule) DO UPDATE SET "
                "settings = excluded.settings, updated_by = excluded.updated_by, "
                "updated_at = excluded.updated_at",
                (guild_id, rule, json.dumps(merged), by, int(time.time() * 1000)))
        return config

    async def reset(self, guild_id: int, rule: str) -> bool:
        async with self._db.transaction() as conn:
            cursor = await conn.execute(
                "DELETE FROM automod_rules WHERE guild_id = ? AND rule = ?", (guild_id, rule))
            return cursor.rowcount > 0


def _with_shop(stored: RuleConfig, base: RuleConfig | None) -> RuleConfig:
    """A stored links rule keeps the shop's domains the defaults were given."""
    if base is None or "shop_domains" not in base.params:
        return stored
    return replace(stored, params={**stored.params, "shop_domains": base.params["shop_domains"]})
