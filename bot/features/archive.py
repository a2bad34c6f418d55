"""The archive: every message the bot can see, stored first in the pipeline.

It owns the ``messages`` rows a member wrote and the member's ``members`` row (every author
whose messages are stored has one). Chat context, insights and exports read from here.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.core.feature import DataHooks, Feature, Services
from bot.core.pipeline import Edit, MessageEvent, MessageHook, Stage
from bot.core.text import clean_text


def setup(services: Services) -> Feature:
    writer, db = services.writer, services.db

    async def archive(event: MessageEvent) -> None:
        if event.store:
            await writer.add(event.msg.archived())

    async def on_edit(edit: Edit) -> None:
        await writer.edit(edit.message_id, clean_text(edit.content), edit.edited_at)

    async def on_delete(message_ids: Sequence[int]) -> None:
        await writer.delete_many(message_ids)

    async def export(guild: int, user_id: int) -> dict:
        await writer.flush()
        member = await db.fetchone(
            "SELECT display_name, first_seen, last_seen FROM members "
            "WHERE guild_id = ? AND user_id = ?", (guild, user_id))
        rows = await db.fetchall(
            "SELECT message_id, channel_id, thread_id, content, created_at, edited_at "
            "FROM messages WHERE guild_id = ? AND author_id = ? ORDER BY message_id",
            (guild, user_id))
        return {
            "member": None if member is None else {
                "display_name": member[0], "first_seen": member[1], "last_seen": member[2]},
            "messages": [{
                "message_id": str(r[0]), "channel_id": str(r[1]),
                "thread_id": None if r[2] is None else str(r[2]),
                "content": r[3], "created_at": r[4], "edited_at": r[5]} for r in rows],
        }

    async def delete(guild: int, user_id: int) -> int:
        await writer.flush()  # a buffered message must not come back after the delete
        async with db.transaction() as conn:
            messages = await conn.execute(
                "DELETE FROM messages WHERE guild_id = ? AND author_id = ?", (guild, user_id))
            member = await conn.execute(
                "DELETE FROM members WHERE guild_id = ? AND user_id = ?", (guild, user_id))
            return messages.rowcount + member.rowcount

    return Feature(
        name="archive",
        hooks=(MessageHook(Stage.ARCHIVE, archive),),
        on_edit=on_edit,
        on_delete=on_delete,
        data=DataHooks(covers=("messages.author_id", "members.user_id"), export=export,
                       delete=delete),
    )
