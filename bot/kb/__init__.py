"""The shop knowledge base: products, FAQ answers and the shop's "about" text, per guild,
imported from files and searched with SQLite FTS5. Plain async Python, no discord import:
the CLI, a slash command and grounded answers all use it the same way.
"""

from bot.kb.entries import ABOUT, FAQ, KINDS, PRODUCT, Document, Entry, KBError
from bot.kb.files import parse_document, read_document
from bot.kb.store import ImportSummary, KnowledgeBase, Listing, Stored

__all__ = [
    "ABOUT",
    "FAQ",
    "KINDS",
    "PRODUCT",
    "Document",
    "Entry",
    "ImportSummary",
    "KBError",
    "KnowledgeBase",
    "Listing",
    "Stored",
    "parse_document",
    "read_document",
]
