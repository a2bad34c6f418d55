"""The training corpus: the community's conversations, as ``lm`` chat JSONL, from members
who allow it, scrubbed of personal data.

A conversation is a thread, or a reply chain in a channel (every message linked by
replies to one root). Its turns alternate as the chitchat conversations' do
(``lm/sources.py``): the first speaker is "user", everyone else "assistant", and runs of
one role are joined. Names are left out. Only members the guild's training consent lets
in are taken (``bot.privacy.consent``: by default, those who opted in); bot messages are
dropped, and so is any message a moderation case was opened about. A conversation needs
two turns left; one seen before (same text) is skipped.

The scrub turns what identifies someone into placeholders: e-mail addresses, phone
numbers, card-like digit runs, street addresses (a number, a name and a street word),
Discord mentions and raw ids, and order numbers.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from bot.privacy.consent import Consent
from bot.store import DM_GUILD, Database
from lm.clean import scrub_pii

# What a shop's community writes beyond ``lm.clean.scrub_pii``'s mentions, e-mail, ids and
# phones. These run first: a card number or an order code would otherwise read as a phone.
_SHOP_PII = [
    (re.compile(r"(?i)\b(?:order\s+(?:no|number|nr|id)\.?|order|ord)\s*[:#]?\s*#?"
                r"(?=[A-Z-]{0,6}\d)[A-Z0-9][A-Z0-9-]{3,24}\b"), "order <order>"),
    (re.compile(r"#\d{4,12}\b"), "<order>"),
    # grouped in fours, or 13-16 digits in a row (a Discord id is 17-20: left to scrub_pii)
    (re.compile(r"(?<!\d)(?:(?:\d{4}[ -]){3}\d{1,7}|\d{13,16})(?!\d)"), "<card>"),
    (re.compile(r"(?i)\b\d{1,5}[a-z]?\s+(?:[A-Z][\w'-]{1,30}\s+){1,4}"
                r"(?:street|st|road|rd|avenue|ave|lane|ln|drive|dr|boulevard|blvd|way|court|ct|"
                r"place|pl|terrace|close|crescent|strasse|straße|gasse|weg)\b\.?"), "<address>"),
]


def scrub(text: str) -> str:
    """``text`` with personal data replaced by placeholders (module docstring)."""
    for pattern, placeholder in _SHOP_PII:
        text = pattern.sub(placeholder, text)
    return scrub_pii(text)


@dataclass(frozen=True)
class Summary:
    conversations: int
    messages: int
    skipped_consent: int
    skipped_moderated: int
    duplicates: int
    path: str


async def _messages(db: Database, guild: int | None, since_ms: int) -> list[tuple]:
    return [tuple(r) for r in await db.fetchall(
        "SELECT message_id, guild_id, channel_id, thread_id, author_id, is_bot, reply_to_id, "
        "content FROM messages WHERE guild_id <> ? AND (? IS NULL OR guild_id = ?) "
        "AND created_at >= ? ORDER BY message_id", (DM_GUILD, guild, guild, since_ms))]


def conversations(rows: list[tuple]) -> Iterator[list[tuple]]:
    """Group messages into threads and reply chains, each in time order."""
    parent: dict[int, int] = {}

    def root(mid: int) -> int:
        while parent.get(mid, mid) != mid:
            mid = parent[mid]
        return mid

    for mid, _, _, thread, _, _, reply_to, _ in rows:  # in time order: a parent comes first
        parent[mid] = root(reply_to) if not thread and reply_to in parent else mid
    groups: dict[object, list[tuple]] = {}
    for row in rows:
        key = ("t", row[3]) if row[3] else root(row[0])
        groups.setdefault(key, []).append(row)
    for group in groups.values():
        if len(group) > 1:
            yield sorted(group)


async def export_corpus(db: Database, out: Path, *, guild: int | None = None,
                        since_ms: int = 0, progress: bool = True) -> Summary:
    consent = Consent(db)
    rows = await _messages(db, guild, since_ms)
    moderated = {r[0] for r in await db.fetchall(
        "SELECT message_id FROM mod_cases WHERE message_id IS NOT NULL")}
    seen: set[str] = set()
    n_conv = n_msgs = skipped_consent = skipped_moderated = duplicates = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with partial.open("w", encoding="utf-8") as f:
        for group in tqdm(list(conversations(rows)), desc="export", unit="conversation",
                          disable=not progress, dynamic_ncols=True):
            turns: list[tuple[str, str]] = []
            first = None
            for mid, g, _, _, author, is_bot, _, content in group:
                if is_bot or not content.strip():
                    continue
                if mid in moderated:
                    skipped_moderated += 1
                    continue
                if not await consent.may_train(g, author):  # Consent caches per member
                    skipped_consent += 1
                    continue
                first = author if first is None else first
                role = "user" if author == first else "assistant"
                text = scrub(" ".join(content.split()))
                if turns and turns[-1][0] == role:
                    turns[-1] = (role, turns[-1][1] + "\n" + text)
                else:
                    turns.append((role, text))
            if len(turns) < 2:
                continue
            digest = hashlib.sha256(json.dumps(turns).lower().encode()).hexdigest()
            if digest in seen:
                duplicates += 1
                continue
            seen.add(digest)
            f.write(json.dumps({"messages": [{"role": r, "content": c} for r, c in turns]},
                               ensure_ascii=False) + "\n")
            n_conv += 1
            n_msgs += len(turns)
    partial.replace(out)
    await db.write(
        "INSERT INTO corpus_exports (guild_id, created_at, path, message_count, last_message_id) "
        "VALUES (?, ?, ?, ?, ?)", (guild, int(time.time() * 1000), str(out), n_msgs,
                                    rows[-1][0] if rows else None))
    return Summary(n_conv, n_msgs, skipped_consent, skipped_moderated, duplicates, str(out))
