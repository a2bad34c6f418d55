"""Chat: the model answers members who address the bot (``bot.chat.service``).

Its member data are the bot's own answers to a member: archived bot messages that reply
to one of the member's messages, and the later parts of those answers. They read as the
member's conversation, so they are exported and erased with it. They are found through
the reply chain, before the archive feature removes the member's own messages (features
delete in reverse load order, and chat loads after the archive).
"""

from __future__ import annotations

from bot.chat.memory import MemberMemory
from bot.chat.service import ChatService
from bot.core.feature import DataHooks, Feature, Services
from bot.core.pipeline import MessageHook, Stage

DRAIN_TIMEOUT_S = 20.0

# "message_id IN (...)": the bot's answers to the member, and the later parts of each.
# A subquery, not a leading WITH: sqlite3 reports no rowcount for statements that start
# with WITH.
_ANSWERS = (
    "message_id IN (WITH RECURSIVE answers(id) AS ("
    " SELECT a.message_id FROM messages a JOIN messages q ON a.reply_to_id = q.message_id"
    " WHERE q.guild_id = ? AND q.author_id = ? AND a.author_id = ? AND a.is_bot = 1"
    " UNION SELECT m.message_id FROM messages m JOIN answers ON m.reply_to_id = answers.id"
    " WHERE m.author_id = ? AND m.is_bot = 1) SELECT id FROM answers)"
)


def setup(services: Services) -> Feature:
    return build(services)[0]


def build(services: Services, **options) -> tuple[Feature, ChatService]:
    """The feature and its service; ``options`` (a clock, the edit interval) are for tests."""
    chat = ChatService(
        archive=services.archive, writer=services.writer, memory=MemberMemory(services.db),
        model=services.model, guilds=services.guilds, pipeline=services.pipeline,
        settings=services.settings, bot_user_id=services.bot_user_id,
        bot_name=services.bot_name, **options)
    db, bot = services.db, services.bot_user_id

    async def export(guild: int, user_id: int) -> list[dict]:
        await services.writer.flush()
        rows = await db.fetchall(
            "SELECT message_id, channel_id, reply_to_id, content, created_at FROM messages "
            f"WHERE {_ANSWERS} ORDER BY message_id",
            (guild, user_id, bot, bot))
        return [{"message_id": str(r[0]), "channel_id": str(r[1]), "reply_to_id": str(r[2]),
                 "content": r[3], "created_at": r[4]} for r in rows]

    async def delete(guild: int, user_id: int) -> int:
        await services.writer.flush()
        return await db.write(
            f"DELETE FROM messages WHERE {_ANSWERS}",
            (guild, user_id, bot, bot))

    async def stop() -> None:
        await chat.drain(DRAIN_TIMEOUT_S)

    return Feature(
        name="chat",
        hooks=(MessageHook(Stage.ANSWER, chat.answer),),
        on_delete=chat.on_delete,
        data=DataHooks(covers=(), export=export, delete=delete),
        stop=stop,
        requires=("archive",),
    ), chat
