"""Fixtures: every storage test runs against a real SQLite file in its own tmp_path."""

import pytest_asyncio

from bot.store import Archive, Database


@pytest_asyncio.fixture
async def db(tmp_path):
    database = await Database.open(tmp_path / "bot.db")
    yield database
    await database.close()


@pytest_asyncio.fixture
async def archive(db):
    return Archive(db)
