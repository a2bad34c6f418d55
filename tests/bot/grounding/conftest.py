"""The demo shop in a fresh knowledge base, and a grounder over it."""

import pytest_asyncio

from bot.firstrun import DEMO_SHOP
from bot.grounding import Grounder
from bot.kb import KnowledgeBase

GUILD = 1


@pytest_asyncio.fixture
async def shop(db):
    kb = KnowledgeBase(db)
    for path in DEMO_SHOP:
        await kb.import_file(GUILD, path)
    return kb


@pytest_asyncio.fixture
async def grounder(shop):
    return Grounder(shop)
