"""Chat: the model answers members who address the bot (``bot.chat.service``).

Its member data are the bot's own answers to a member (and its notes to them): archived
bot posts whose ``answered_user_id`` is the member. They read as the member's
conversation, so they are exported and erased with it, also when the question itself was
deleted long ago.
"""

from __future__ import annotations

from bot.chat.memory import MemberMemory
from bot.chat.service import ChatService
from bot.core.feature import DataHooks, Feature, Services
from bot.core.pipeline import MessageHook, Stage
from bot.grounding import Grounder
from bot.kb import KnowledgeBase

DRAIN_TIMEOUT_S = 20.0

def setup(services: Services) -> Feature:
    return build(services)[0]


def build(services: Services, **options) -> tuple[Feature, ChatService]:
    """The feature and its service; ``options`` (a clock, the edit interval) are for tests."""
    chat = ChatService(
        archive=services.archive, writer=services.writer, memory=MemberMemory(services.db),
        model=services.model, guilds=services.guilds, pipeline=services.pipeline,
        settings=services.settings,
        grounder=Grounder(KnowledgeBase(services.db), services.model,
                          trusted=services.settings.model_trusted),
        poster=services.poster, bot_user_id=services.bot_user_id,
        bot_name=services.bot_name, **options)
    db, bot = services.db, services.bot_user_id

    async def export(guild: int, user_id: int) -> list[dict]:
        await services.writer.flush()
        rows = await db.fetchall(
            "SELECT message_id, channel_id, reply_to_id, content, created_at FROM messages "
            "WHERE answered_user_id = ? AND guild_id = ? AND author_id = ? ORDER BY message_id",
            (user_id, guild, bot))
        return [{"message_id": str(r[0]), "channel_id": str(r[1]),
                 "reply_to_id": None if r[2] is None else str(r[2]),
                 "content": r[3], "created_at": r[4]} for r in rows]

    async def delete(guild: int, user_id: int) -> int:
        await services.writer.flush()
        return await db.write(
            "DELETE FROM messages WHERE answered_user_id = ? AND guild_id = ? AND author_id = ?",
            (user_id, guild, bot))

    async def stop() -> None:
        await chat.drain(DRAIN_TIMEOUT_S)

    return Feature(
        name="chat",
        hooks=(MessageHook(Stage.ANSWER, chat.answer),),
        on_delete=chat.on_delete,
        data=DataHooks(covers=("messages.answered_user_id",), export=export, delete=delete),
        stop=stop,
        requires=("archive",),
    ), chat
