"""Member memory: facts members tell the bot, kept in ``member_facts`` and put in prompts.

Facts come from fixed rules (regular expressions), not from the model: a rule is
predictable, testable and cheap, and a member can read exactly what was kept with
``/memory``. The rules only look at messages addressed to the bot (``bot.core.addressing``),
because remembering what people say to each other is not what members expect.

Rules skip questions ("should I wear a 10?") and hypotheticals ("if I wear a 10"), except
that asking about an order is itself worth remembering. A newer fact replaces the one it
contradicts: a new size replaces the old size, a new status of order 1234 replaces the
old status, "I hate wool" replaces "I love wool". Each fact stores a SQL LIKE pattern of
the values it replaces, so no extra column is needed.

Direct messages have no guild; their facts live under ``bot.store.DM_GUILD``, so they never
leak into a community's prompts and stay findable by the member's user id for export and
deletion. Fact kinds are checked here, not by a CHECK list in the schema, so a new kind
is a code change, not a table rebuild.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.store import Database

KINDS = ("size", "preference", "order", "other")
MAX_FACTS = 30  # per member per guild; the oldest go first, keeping profiles prompt-sized

_SIZE = (r"(?P<size>extra[- ]small|extra[- ]large|xxs|xs|s|m|l|xl|xxl|xxxl|[23]xl|small|medium"
         r"|large|petite|\d{1,2}(?:\.5)?)")
# What may follow a size for it to be a size: punctuation, the end, or a few connectives.
# This is what keeps "I'm a small business owner" and "I take 2 of them" out.
_AFTER_SIZE = r"(?=\s*(?:[,.!;:)]|$|\s(?:in|at|for|usually|normally|mostly|but|and|or|top|tops|bottoms?|shoes?)\b))"
_IM = r"i(?:'m|m|\s+am)"
_OFTEN = r"(?:usually\s+|normally\s+|always\s+|typically\s+)?"
_ITEM = r"(?P<item>[\w'-]+(?:\s+[\w'-]+){0,3}?)"
_AFTER_ITEM = r"(?=\s*(?:[,.!;:)]|$|\s(?:and|but|because|so|too|as|for|in|on|when)\b))"

_SIZE_RULES = (
    re.compile(rf"\b{_IM}\s+{_OFTEN}(?:a\s+)?size\s+{_SIZE}{_AFTER_SIZE}", re.I),
    re.compile(rf"\b{_IM}\s+{_OFTEN}an?\s+{_SIZE}{_AFTER_SIZE}", re.I),
    re.compile(rf"\bi\s+{_OFTEN}(?:wear|take)\s+(?:an?\s+)?(?:size\s+)?{_SIZE}{_AFTER_SIZE}", re.I),
    re.compile(rf"\bmy\s+(?:(?P<what>shoe|dress|jeans|ring|bra)\s+)?size\s+is\s+{_SIZE}{_AFTER_SIZE}", re.I),
)
_PREFERENCE = re.compile(
    rf"\bi\s+(?:really\s+|absolutely\s+|just\s+)?(?P<verb>love|adore|like|prefer|hate|dislike"
    rf"|can't\s+stand|cannot\s+stand)\s+(?:the\s+)?{_ITEM}{_AFTER_ITEM}", re.I)
_ALLERGY = re.compile(rf"\b{_IM}\s+(?:very\s+|so\s+)?allergic\s+to\s+{_ITEM}{_AFTER_ITEM}", re.I)
# Place names must be capitalised: "I'm in a hurry" is not a location.
_LOCATION = re.compile(
    r"\b(?i:i\s+live|i(?:'m|m|\s+am)\s+(?:based|located))\s+in\s+"
    r"(?P<place>[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*){0,3})")
_ORDER = re.compile(
    r"\border\s*(?:#\s*|no\.?\s*|number\s*)?(?P<num>[a-z]{0,3}-?\d{3,12})\b\s*(?P<rest>[^.!?;\n]{0,80})", re.I)

_MENTIONS = re.compile(r"<@[!&]?\d+>|@\w+")
_SENTENCE = re.compile(r"(?<=[.!?;])\s+(?=\D)|\n+")
_HEDGES = {"if", "when", "whether", "not", "never", "should", "would", "could", "might",
           "maybe", "unless", "do", "does", "did"}
_NOT_ITEMS = {"it", "this", "that", "these", "those", "you", "your", "u", "him", "her", "them",
              "to", "when", "how", "what", "way", "my", "a", "an", "being", "getting", "having"}
_SIZE_WORDS = {"extra small": "XS", "extra-small": "XS", "small": "S", "medium": "M", "large": "L",
               "extra large": "XL", "extra-large": "XL"}
_PREFERENCE_VERBS = {"love": "loves", "adore": "loves", "like": "likes", "prefer": "prefers",
                     "hate": "dislikes", "dislike": "dislikes"}


@dataclass(frozen=True)
class Fact:
    kind: str  # one of KINDS
    value: str  # as shown to the member and the model: "size M", "loves linen"
    replaces: str  # LIKE pattern of earlier values this fact supersedes

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"fact kind {self.kind!r}: one of {', '.join(KINDS)}")


def extract_facts(text: str) -> list[Fact]:
    """Facts stated in ``text``, in order, without duplicates."""
    facts: dict[str, Fact] = {}
    text = _MENTIONS.sub(" ", text.replace("\u2019", "'"))  # "@bot I'm a size M"
    for sentence in _SENTENCE.split(text):
        sentence = sentence.strip()
        question = sentence.endswith("?")
        for fact in _order_facts(sentence, question):
            facts.setdefault(fact.value.lower(), fact)
        if question:
            continue
        for fact in _statement_facts(sentence):
            facts.setdefault(fact.value.lower(), fact)
    return list(facts.values())


def _hedged(sentence: str, start: int) -> bool:
    before = re.findall(r"[\w']+", sentence[:start].lower())[-3:]
    return any(word in _HEDGES or word.endswith("n't") for word in before)


def _order_facts(sentence: str, question: bool):
    for m in _ORDER.finditer(sentence):
        number = m["num"].upper()
        rest = " ".join(m["rest"].split()).strip(" ,:-")
        value = f"order #{number}"
        if question or not rest:
            value += " (asked about it)"
        else:
            value += f": {rest}"
        yield Fact("order", value, _like_prefix(f"order #{number}"))


def _statement_facts(sentence: str):
    for rule in _SIZE_RULES:
        for m in rule.finditer(sentence):
            if _hedged(sentence, m.start()):
                continue
            raw = m["size"].lower()
            size = _SIZE_WORDS.get(raw, raw if raw[0].isdigit() or raw == "petite" else raw.upper())
            what = (m.groupdict().get("what") or "").lower()
            label = f"{what} size" if what else "size"
            yield Fact("size", f"{label} {size}", _like_prefix(f"{label} "))
    for m in _PREFERENCE.finditer(sentence):
        item = _item(m["item"])
        if item and not _hedged(sentence, m.start()):
            verb = _PREFERENCE_VERBS.get(m["verb"].lower().split()[0], "dislikes")
            yield Fact("preference", f"{verb} {item}", _like_suffix(f" {item}"))
    for m in _ALLERGY.finditer(sentence):
        item = _item(m["item"])
        if item and not _hedged(sentence, m.start()):
            yield Fact("preference", f"allergic to {item}", _like_suffix(f" {item}"))
    for m in _LOCATION.finditer(sentence):
        if not _hedged(sentence, m.start()):
            yield Fact("other", f"lives in {m['place']}", _like_prefix("lives in "))


def _item(raw: str) -> str | None:
    item = raw.strip().lower()
    return None if not item or item.split()[0] in _NOT_ITEMS else item


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like_prefix(text: str) -> str:
    return _escape_like(text) + "%"


def _like_suffix(text: str) -> str:
    return "%" + _escape_like(text)


class MemberMemory:
    """Reads and writes ``members`` and ``member_facts`` for the chat domain."""

    def __init__(self, db: Database, max_facts: int = MAX_FACTS) -> None:
        self._db = db
        self._max_facts = max_facts

    async def remember(self, guild_id: int, user_id: int, display_name: str, facts: list[Fact],
                       source_message_id: int, now_ms: int) -> None:
        """Store ``facts`` (replacing what they contradict) in one transaction."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "INSERT INTO members (guild_id, user_id, display_name, first_seen, last_seen) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id, user_id) DO UPDATE SET "
                "display_name = excluded.display_name, last_seen = max(last_seen, excluded.last_seen)",
                (guild_id, user_id, display_name, now_ms, now_ms),
            )
            for fact in facts:
                await conn.execute(
                    "DELETE FROM member_facts WHERE guild_id = ? AND user_id = ? AND kind = ? "
                    "AND value LIKE ? ESCAPE '\\'",
                    (guild_id, user_id, fact.kind, fact.replaces),
                )
                await conn.execute(
                    "INSERT INTO member_facts (guild_id, user_id, kind, value, source_message_id, "
                    "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (guild_id, user_id, fact.kind, fact.value, source_message_id, now_ms, now_ms),
                )
            await conn.execute(
                "DELETE FROM member_facts WHERE guild_id = ? AND user_id = ? AND id NOT IN ("
                "SELECT id FROM member_facts WHERE guild_id = ? AND user_id = ? "
                "ORDER BY updated_at DESC, id DESC LIMIT ?)",
                (guild_id, user_id, guild_id, user_id, self._max_facts),
            )

    async def facts(self, guild_id: int, user_id: int) -> list[str]:
        """The member's fact values, oldest first."""
        rows = await self._db.fetchall(
            "SELECT value FROM member_facts WHERE guild_id = ? AND user_id = ? ORDER BY updated_at, id",
            (guild_id, user_id),
        )
        return [row[0] for row in rows]

    async def export(self, guild_id: int, user_id: int) -> list[dict]:
        rows = await self._db.fetchall(
            "SELECT kind, value, source_message_id, created_at, updated_at FROM member_facts "
            "WHERE guild_id = ? AND user_id = ? ORDER BY updated_at, id", (guild_id, user_id))
        return [{"kind": r[0], "value": r[1],
                 "source_message_id": None if r[2] is None else str(r[2]),
                 "created_at": r[3], "updated_at": r[4]} for r in rows]

    async def forget_matching(self, guild_id: int, user_id: int, words: str) -> list[str]:
        """Delete the member's facts that contain ``words`` (any case); the facts deleted."""
        words = " ".join(words.split()).lower()
        rows = await self._db.fetchall(
            "SELECT id, value FROM member_facts WHERE guild_id = ? AND user_id = ?",
            (guild_id, user_id))
        matched = [r for r in rows if words in r[1].lower()]
        await self._db.write_many("DELETE FROM member_facts WHERE id = ?", [(r[0],) for r in matched])
        return [r[1] for r in matched]

    async def forget(self, guild_id: int, user_id: int) -> int:
        """Delete every fact about the member in this guild; return how many there were."""
        return await self._db.write(
            "DELETE FROM member_facts WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )


def render_profile(name: str, facts: list[str]) -> str:
    """The prompt's profile section; empty when nothing is known."""
    if not facts:
        return ""
    return f"What {name} told you before: " + "; ".join(facts) + "."
