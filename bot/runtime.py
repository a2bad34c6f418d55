"""Start-up and shutdown shared by both adapters: database, archive writer, model, chat.

One place decides the order, so the console and Discord cannot drift apart: open the
database (applying migrations), load the model off the event loop, build the chat
service; on the way down, let answers in progress finish, drain the model, flush the
archive and close the database.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from bot.chat.service import ChatService
from bot.config import Settings
from bot.model import ChatModel, LocalModel
from bot.store import Archive, ArchiveWriter, Database

log = logging.getLogger(__name__)

DRAIN_TIMEOUT_S = 20.0


@dataclass
class Runtime:
    db: Database
    writer: ArchiveWriter
    model: ChatModel
    chat: ChatService

    async def close(self, drain_timeout: float = DRAIN_TIMEOUT_S) -> None:
        """Finish what is in flight, then release everything; safe to call once."""
        try:
            await self.chat.drain(drain_timeout)
            await self.model.close(drain_timeout)
            await self.writer.close()
        finally:
            await self.db.close()
        log.info("shut down cleanly")


async def load_model(model_dir: Path) -> LocalModel:
    """Start the model's engine on a thread: its worker loads hundreds of MB, and waiting
    for that must not stall the loop."""
    log.info("loading the model from %s", model_dir)
    return await asyncio.to_thread(LocalModel.load, model_dir)


async def start(settings: Settings, model: ChatModel, *, bot_user_id: int, bot_name: str) -> Runtime:
    db = await Database.open(settings.database_path)
    if db.applied:
        log.info("database %s: applied migrations %s", settings.database_path, db.applied)
    writer = ArchiveWriter(Archive(db))
    chat = ChatService(db=db, writer=writer, model=model, settings=settings,
                       bot_user_id=bot_user_id, bot_name=bot_name)
    return Runtime(db=db, writer=writer, model=model, chat=chat)
