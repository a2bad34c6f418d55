"""Each automod rule's settings: on or off, its actions, its exemptions and parameters.

A guild starts from ``DEFAULTS`` and stores only what its moderators changed, one row per
rule in ``automod_rules`` (migration 0007), so a better default reaches every guild that
never touched it. Every value is validated here, with an error that names the setting,
whether it came from a slash command or from a stored row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

CONTENT = ("words", "threats", "scam", "promotion", "links", "caps", "flood", "mentions",
           "toxicity")
RATES = ("burst", "duplicates", "new_accounts")
ACTIONS = frozenset({"delete", "warn", "timeout", "flag"})
MAX_TIMEOUT_MINUTES = 28 * 24 * 60  # Discord's longest timeout
MAX_WORDS = 500


class RuleError(ValueError):
    """A rule setting that cannot be used; the message names it."""


@dataclass(frozen=True)
class RuleConfig:
    enabled: bool = True
    actions: tuple[str, ...] = ("delete",)
    timeout_minutes: int = 10
    exempt_roles: frozenset[int] = frozenset()
    exempt_channels: frozenset[int] = frozenset()
    params: Mapping[str, object] = field(default_factory=dict)
    include_staff: bool = False  # also act on moderators, the owner and other bots

    def applies(self, roles: frozenset[int], channels: tuple[int, ...], staff: bool) -> bool:
        """Whether the rule judges a message by a member with ``roles``, posted in
        ``channels`` (the channel, and the thread when in one)."""
        return (self.enabled and (self.include_staff or not staff)
                and not (self.exempt_roles & roles)
                and not any(c in self.exempt_channels for c in channels))


# Parameter name -> (type, low, high) for numbers, or (list, max items) for lists.
PARAMS: dict[str, dict[str, tuple]] = {
    "words": {"words": (list, MAX_WORDS), "defaults": (bool,)},
    "threats": {},
    "scam": {},
    "promotion": {"allow": (list, 200)},
    "links": {"mode": (str, ("invites", "allowlist")), "allow": (list, 200)},
    "caps": {"min_letters": (int, 4, 2000), "ratio": (float, 0.3, 1.0)},
    "flood": {"max_lines": (int, 2, 200), "max_repeat": (int, 4, 2000),
              "max_same_words": (int, 2, 200), "zalgo_ratio": (float, 0.05, 5.0)},
    "mentions": {"max_mentions": (int, 2, 100)},
    "toxicity": {"threshold": (float, 0.05, 1.0)},
    "burst": {"messages": (int, 2, 100), "seconds": (int, 1, 600)},
    "duplicates": {"count": (int, 2, 50), "seconds": (int, 5, 3600)},
    "new_accounts": {"min_age_hours": (int, 1, 24 * 90)},
}

DEFAULTS: dict[str, RuleConfig] = {
    "words": RuleConfig(actions=("delete", "warn"), params={"words": [], "defaults": True}),
    "threats": RuleConfig(actions=("delete", "warn", "flag")),
    "scam": RuleConfig(actions=("delete", "timeout", "flag"), timeout_minutes=60),
    "promotion": RuleConfig(actions=("delete", "flag"), params={"allow": []}),
    "links": RuleConfig(actions=("delete", "warn"), params={"mode": "invites", "allow": []}),
    "caps": RuleConfig(actions=("delete",), params={"min_letters": 12, "ratio": 0.7}),
    "flood": RuleConfig(actions=("delete",), params={"max_lines": 10, "max_repeat": 15,
                                                     "max_same_words": 5, "zalgo_ratio": 0.3}),
    "mentions": RuleConfig(actions=("delete", "timeout"), timeout_minutes=10,
                           params={"max_mentions": 5}),
    "toxicity": RuleConfig(actions=("delete", "flag"), params={"threshold": 0.8}),
    "burst": RuleConfig(actions=("timeout",), timeout_minutes=5, params={"messages": 6, "seconds": 8}),
    "duplicates": RuleConfig(actions=("delete",), params={"count": 3, "seconds": 60}),
    "new_accounts": RuleConfig(enabled=False, actions=("delete", "flag"),
                               params={"min_age_hours": 24}),
}

RuleSet = Mapping[str, RuleConfig]


def check_param(rule: str, name: str, value: object) -> object:
    """``value`` for the rule's parameter ``name``, validated (RuleError says why not)."""
    spec = PARAMS.get(rule, {}).get(name)
    where = f"{rule}.{name}"
    if spec is None:
        known = ", ".join(PARAMS.get(rule, {})) or "none"
        raise RuleError(f"{where}: no such setting (the {rule} rule has: {known})")
    kind = spec[0]
    if kind is bool:
        if not isinstance(value, bool):
            raise RuleError(f"{where}: must be true or false")
        return value
    if kind is list:
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise RuleError(f"{where}: must be a list of words")
        if len(value) > spec[1]:
            raise RuleError(f"{where}: at most {spec[1]} entries")
        return [" ".join(v.split())[:100] for v in value]
    if kind is str:
        if value not in spec[1]:
            raise RuleError(f"{where}: must be one of {', '.join(spec[1])}")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RuleError(f"{where}: must be a number")
    if kind is int and value != int(value):
        raise RuleError(f"{where}: must be a whole number")
    if not spec[1] <= value <= spec[2]:
        raise RuleError(f"{where}: must be between {spec[1]} and {spec[2]}")
    return kind(value)


def check_actions(rule: str, actions: list[str]) -> tuple[str, ...]:
    unknown = [a for a in actions if a not in ACTIONS]
    if unknown or not actions:
        raise RuleError(f"{rule}.actions: choose from {', '.join(sorted(ACTIONS))}"
                        + (f" (not {', '.join(unknown)})" if unknown else ""))
    return tuple(dict.fromkeys(actions))


def from_row(rule: str, data: str) -> RuleConfig:
    """A stored row (the JSON of what moderators changed) over the rule's defaults."""
    if rule not in DEFAULTS:
        raise RuleError(f"{rule}: no such rule (rules: {', '.join(DEFAULTS)})")
    try:
        changes = json.loads(data)
    except json.JSONDecodeError as exc:
        raise RuleError(f"{rule}: stored settings are not JSON ({exc.msg})") from None
    if not isinstance(changes, dict):
        raise RuleError(f"{rule}: stored settings must be an object")
    return apply(rule, DEFAULTS[rule], changes)


def apply(rule: str, base: RuleConfig, changes: dict) -> RuleConfig:
    """``base`` with ``changes`` (the keys of RuleConfig; ``params`` merged), validated."""
    out = base
    for key, value in changes.items():
        if key in ("enabled", "include_staff"):
            if not isinstance(value, bool):
                raise RuleError(f"{rule}.{key}: must be true or false")
            out = replace(out, **{key: value})
        elif key == "actions":
            out = replace(out, actions=check_actions(rule, list(value)))
        elif key == "timeout_minutes":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TIMEOUT_MINUTES:
                raise RuleError(f"{rule}.timeout_minutes: a whole number from 1 to {MAX_TIMEOUT_MINUTES}")
            out = replace(out, timeout_minutes=value)
        elif key in ("exempt_roles", "exempt_channels"):
            if not isinstance(value, list) or not all(isinstance(v, int) and v > 0 for v in value):
                raise RuleError(f"{rule}.{key}: must be a list of ids")
            out = replace(out, **{key: frozenset(value)})
        elif key == "params":
            if not isinstance(value, dict):
                raise RuleError(f"{rule}.params: must be an object")
            params = dict(out.params)
            params.update({k: check_param(rule, k, v) for k, v in value.items()})
            out = replace(out, params=params)
        else:
            raise RuleError(f"{rule}.{key}: no such setting")
    return out


def defaults(shop_domains: list[str] = ()) -> dict[str, RuleConfig]:
    """The default rules, with the shop's own domains allowed (its links are never an
    advert) and protected from look-alikes (``rules.brands``)."""
    out = dict(DEFAULTS)
    if shop_domains:
        for rule in ("links", "promotion"):
            out[rule] = replace(out[rule], params={**out[rule].params, "shop_domains": list(shop_domains)})
    return out
