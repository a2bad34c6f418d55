"""The knowledge base in SQLite: import (an idempotent upsert), search (FTS5, bm25) and
listing, per guild. Schema: ``migrations/0004_knowledge.sql``.

An import is one transaction: the file's entries are compared with what the guild holds,
then inserted, updated or (with ``replace``) removed, so a file with a bad row or an import
that fails half-way leaves the knowledge base exactly as it was, and a second import of
the same file writes nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bot.kb.entries import KINDS, Document, Entry
from bot.kb.files import read_document
from bot.kb.terms import index_grams, match_expression, query_terms
from bot.store import Database

if TYPE_CHECKING:
    import aiosqlite

# Run inside ``put``'s transaction before it writes; the write happens only if it says True.
Guard = Callable[["aiosqlite.Connection"], Awaitable[bool]]

# bm25 column weights, in kb_fts column order (guild_id is unindexed, so its weight is
# unused; grams holds the CJK bigrams of title and body). A word in a question or product name says more about what an entry is for
# than the same word in an answer. Measured on 63 member-style questions about the demo
# shop: the right entry first for 0.75 of them with title 4 (0.73 with all weights 1);
# 2 or 8, or doubling the terms column, changed hit@3 by one question either way.
WEIGHTS = {"guild_id": 0.0, "title": 4.0, "body": 1.0, "terms": 1.0, "grams": 1.0}

_CONTENT = ("title", "body", "category", "price", "price_cents", "currency", "in_stock",
            "attributes", "url", "source", "grams")
_SELECT = f"e.id, e.kind, e.key, {', '.join('e.' + c for c in _CONTENT[:-1])}"
_BM25 = f"bm25(kb_fts, {', '.join(str(w) for w in WEIGHTS.values())})"


@dataclass(frozen=True)
class ImportSummary:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0


@dataclass(frozen=True)
class Stored:
    """An entry as the knowledge base holds it; ``score`` ranks search hits (higher is a
    better match; bm25 negated) and is 0 in a listing."""

    id: int
    entry: Entry
    source: str
    score: float = 0.0


@dataclass(frozen=True)
class Listing:
    counts: dict[str, int]  # by kind, every kind present (0 when the guild has none)
    entries: list[Stored]   # products, then FAQ, then about; each kind in import order


def _row(entry: Entry, source: str) -> tuple:
    """An entry's stored content columns, in ``_CONTENT`` order."""
    in_stock = None if entry.in_stock is None else int(entry.in_stock)
    attributes = json.dumps(entry.attributes, ensure_ascii=False)  # search reads this text
    return (entry.title, entry.body, entry.category, entry.price, entry.price_cents,
            entry.currency, in_stock, attributes, entry.url, source,
            index_grams(entry.title, entry.body))


def _stored(row: Iterable, score: float = 0.0) -> Stored:
    id_, kind, key, title, body, category, price, cents, currency, stock, attrs, url, source = row
    entry = Entry(kind=kind, key=key, title=title, body=body, category=category, price=price,
                  price_cents=cents, currency=currency,
                  in_stock=None if stock is None else bool(stock),
                  attributes=json.loads(attrs), url=url)
    return Stored(id_, entry, source, score)


class KnowledgeBase:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    async def import_file(self, guild_id: int, path: str | Path, *,
                          replace: bool = False) -> ImportSummary:
        return await self.import_document(guild_id, read_document(path), replace=replace)

    async def import_document(self, guild_id: int, document: Document, *,
                              replace: bool = False) -> ImportSummary:
        """Upsert the document's entries by (kind, key). ``replace`` also removes the
        guild's entries of the kinds the document speaks for that it no longer holds;
        other kinds and other guilds are never touched."""
        unknown = {e.kind for e in document.entries} - set(KINDS)
        if unknown:
            raise ValueError(f"unknown entry kinds {sorted(unknown)}")
        wanted = {(e.kind, e.key): _row(e, document.name) for e in document.entries}
        kinds = sorted(document.kinds)
        now = int(self._clock() * 1000)
        added = updated = removed = 0
        async with self._db.transaction() as conn:
            rows = await conn.execute_fetchall(
                f"SELECT id, kind, key, {', '.join(_CONTENT)} FROM kb_entries "
                f"WHERE guild_id = ? AND kind IN ({', '.join('?' * len(kinds))})",
                (guild_id, *kinds),
            )
            held = {(kind, key): (id_, tuple(content)) for id_, kind, key, *content in rows}
            for (kind, key), content in wanted.items():
                known = held.get((kind, key))
                if known is None:
                    await conn.execute(
                        f"INSERT INTO kb_entries (guild_id, kind, key, {', '.join(_CONTENT)}, "
                        f"created_at, updated_at) VALUES ({', '.join('?' * (len(_CONTENT) + 5))})",
                        (guild_id, kind, key, *content, now, now),
                    )
                    added += 1
                elif known[1] != content:
                    await conn.execute(
                        f"UPDATE kb_entries SET {', '.join(c + ' = ?' for c in _CONTENT)}, "
                        "updated_at = ? WHERE id = ?",
                        (*content, now, known[0]),
                    )
                    updated += 1
            if replace:
                gone = [(id_,) for k, (id_, _) in held.items() if k not in wanted]
                await conn.executemany("DELETE FROM kb_entries WHERE id = ?", gone)
                removed = len(gone)
        return ImportSummary(added, updated, len(wanted) - added - updated, removed)

    async def get(self, guild_id: int, kind: str, key: str, *,
                  ignore_case: bool = False) -> Stored | None:
        """The guild's entry of ``kind`` under ``key``; ``ignore_case`` for a sku a member
        typed (an exact match wins over one that differs only in case)."""
        collate = " COLLATE NOCASE" if ignore_case else ""
        row = await self._db.fetchone(
            f"SELECT {_SELECT} FROM kb_entries e WHERE e.guild_id = ? AND e.kind = ? "
            f"AND e.key = ?{collate} ORDER BY e.key = ? DESC, e.id LIMIT 1",
            (guild_id, kind, key, key))
        return None if row is None else _stored(row)

    async def put(self, guild_id: int, entry: Entry, source: str, *,
                  guard: Guard | None = None) -> str:
        """Add or update one entry by (kind, key), in one transaction: ``"added"``,
        ``"updated"`` or ``"unchanged"``. ``guard`` runs first in the same transaction (a
        draft marked approved only if the entry is written with it); when it returns False
        nothing is written and the result is ``""``. The search index follows through the
        table's triggers, as for an import."""
        if entry.kind not in KINDS:
            raise ValueError(f"unknown entry kind {entry.kind!r}")
        content = _row(entry, source)
        async with self._db.transaction() as conn:
            if guard is not None and not await guard(conn):
                return ""
            rows = await conn.execute_fetchall(
                f"SELECT id, {', '.join(_CONTENT)} FROM kb_entries "
                "WHERE guild_id = ? AND kind = ? AND key = ?", (guild_id, entry.kind, entry.key))
            latest = await conn.execute_fetchall(
                "SELECT coalesce(max(updated_at), 0) FROM kb_entries WHERE guild_id = ?",
                (guild_id,))
            # After the guild's latest change, even within one millisecond of it, so that
            # ``version`` (what caches of the entries are keyed on) moves with every write.
            now = max(int(self._clock() * 1000), list(latest)[0][0] + 1)
            held = list(rows)
            if not held:
                await conn.execute(
                    f"INSERT INTO kb_entries (guild_id, kind, key, {', '.join(_CONTENT)}, "
                    f"created_at, updated_at) VALUES ({', '.join('?' * (len(_CONTENT) + 5))})",
                    (guild_id, entry.kind, entry.key, *content, now, now))
                return "added"
            id_, *known = held[0]
            if tuple(known) == content:
                return "unchanged"
            await conn.execute(
                f"UPDATE kb_entries SET {', '.join(c + ' = ?' for c in _CONTENT)}, "
                "updated_at = ? WHERE id = ?", (*content, now, id_))
            return "updated"

    async def remove(self, guild_id: int, kind: str, key: str) -> bool:
        """Delete one entry; False when the guild has none under that key."""
        return await self._db.write(
            "DELETE FROM kb_entries WHERE guild_id = ? AND kind = ? AND key = ?",
            (guild_id, kind, key)) > 0

    async def search(self, guild_id: int, query: str, limit: int = 5,
                     kinds: Iterable[str] | None = None) -> list[Stored]:
        """The guild's entries best matching ``query`` (member text, used only as words),
        best first; empty when the text has no word to search for."""
        return await self.search_terms(guild_id, query_terms(query), limit, kinds)

    async def search_terms(self, guild_id: int, terms: list[str], limit: int = 5,
                           kinds: Iterable[str] | None = None) -> list[Stored]:
        """Like ``search``, for terms already cut by ``bot.kb.terms``."""
        expression = match_expression(terms)
        if expression is None or limit < 1:
            return []
        kinds = list(KINDS if kinds is None else kinds)
        rows = await self._db.fetchall(
            f"SELECT {_SELECT}, {_BM25} AS rank FROM kb_fts JOIN kb_entries e ON e.id = kb_fts.rowid "
            f"WHERE kb_fts MATCH ? AND e.guild_id = ? AND e.kind IN ({', '.join('?' * len(kinds))}) "
            "ORDER BY rank, e.id LIMIT ?",
            (expression, guild_id, *kinds, limit),
        )
        return [_stored(tuple(row)[:-1], -row["rank"]) for row in rows]

    async def version(self, guild_id: int) -> tuple[int, int, int]:
        """Changes whenever the guild's entries do (an import, an edit, a removal): what a
        cache of them is keyed on."""
        row = await self._db.fetchone(
            "SELECT count(*), coalesce(max(updated_at), 0), coalesce(max(id), 0) "
            "FROM kb_entries WHERE guild_id = ?", (guild_id,))
        return (row[0], row[1], row[2])

    async def listing(self, guild_id: int) -> Listing:
        rows = await self._db.fetchall(
            f"SELECT {_SELECT} FROM kb_entries e WHERE e.guild_id = ? ORDER BY e.id", (guild_id,)
        )
        entries = sorted((_stored(row) for row in rows), key=lambda s: KINDS.index(s.entry.kind))
        counts = {kind: sum(s.entry.kind == kind for s in entries) for kind in KINDS}
        return Listing(counts, entries)
