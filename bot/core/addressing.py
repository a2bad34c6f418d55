"""Whether a message is meant for the bot: the one rule chat and memory both follow.

A message is addressed to the bot when:
  * it is a direct message, the bot is mentioned, or the message replies to the bot;
  * it is in a thread the bot already took part in (the thread continues its
    conversation; a thread started from a bot message counts);
  * the channel says so: a ``channel_settings.answer`` row wins, else the guild's
    ``guild_settings.answer_channels``, else ``ANSWER_CHANNELS``. Threads follow their
    parent channel.
Messages from bots, including the bot itself, are never addressed to it.
"""

from __future__ import annotations

from bot.config import AnswerChannels
from bot.core.guilds import GuildSettings
from bot.core.messages import Incoming
from bot.store import Archive, ArchiveWriter


class Addressing:
    def __init__(self, *, guilds: GuildSettings, archive: Archive, writer: ArchiveWriter,
                 answer_channels: AnswerChannels, bot_user_id: int) -> None:
        self._guilds = guilds
        self._archive = archive
        self._writer = writer
        self._answer_channels = answer_channels
        self._bot_user_id = bot_user_id

    async def __call__(self, msg: Incoming) -> bool:
        if msg.author_is_bot or msg.author_id == self._bot_user_id:
            return False
        if msg.is_dm or msg.mentions_bot or msg.reply_to_author_id == self._bot_user_id:
            return True
        if msg.thread_id is not None:
            await self._writer.flush()  # the bot's latest answer there may still be buffered
            if await self._archive.has_spoken_in_thread(msg.thread_id, self._bot_user_id):
                return True
        overrides = await self._guilds.overrides(msg.guild_id, msg.channel_id)
        if overrides.channel_answer is not None:
            return overrides.channel_answer
        rule = overrides.guild_answer_channels or self._answer_channels
        return rule.includes(msg.channel_id, msg.channel_name)
