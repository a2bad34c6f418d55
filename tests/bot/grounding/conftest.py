"""The demo shop in a fresh knowledge base, and a grounder over it; and a small soap and
candle shop whose shipping list is whole."""

import pytest_asyncio

from bot.firstrun import DEMO_SHOP
from bot.grounding import Grounder
from bot.kb import KnowledgeBase
from bot.kb.files import parse_document

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


TIDEPOOL_CATALOG = b"""sku,name,category,price,currency,in_stock,attributes,description,url
TS-1,Tidepool Candle,candles,24.00,USD,true,"scent: sea salt, sage and driftwood; weight: 200 g; burn time: 40 hours",A fresh coastal candle poured by hand in an amber glass jar.,https://tide.example/candle
TS-2,Cedar Soap Dish,accessories,7.00,USD,true,"material: white cedar; size: 12 x 8 cm",A slatted dish that lets bars dry between uses.,https://tide.example/dish
"""
TIDEPOOL_FAQ = b"""# Tidepool Soapworks

A two-person soap and candle workshop on the coast.

## Which countries do you ship to?

We ship to the United States, Canada and the United Kingdom. We do not ship to any other countries at this time.

## How long does shipping take?

Orders within the United States arrive in 3 to 5 business days.
"""


@pytest_asyncio.fixture
async def tidepool(db):
    kb = KnowledgeBase(db)
    await kb.import_document(GUILD, parse_document("catalog.csv", TIDEPOOL_CATALOG))
    await kb.import_document(GUILD, parse_document("faq.md", TIDEPOOL_FAQ))
    return Grounder(kb)
