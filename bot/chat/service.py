"""The chat handlers both adapters call: messages, edits, deletions.

Every message is archived; those addressed to the bot (see ``policy``) are answered by
the model, streamed into the channel. A handler never raises into its adapter: whatever
fails is logged, and the member gets a short friendly note instead of silence or a
traceback. The only exception that propagates is cancellation, which adapters use on
shutdown.

Facts are extracted before the answer is generated, so "I'm a size M, which shirt?" is
already answered with the size in the profile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable

from bot.chat.context import assemble, budget_for, fetch_history
from bot.chat.events import Incoming, ReplyChannel, SentMessage
from bot.chat.memory import DM_GUILD, MemberMemory, extract_facts
from bot.chat.policy import Limits, load_overrides
from bot.chat.streaming import ReplyWriter
from bot.chat.text import clean_text
from bot.config import Settings
from bot.model import Busy, ChatModel, ChatRequest
from bot.store import Archive, ArchivedMessage, ArchiveWriter, Database

log = logging.getLogger(__name__)

BUSY_NOTE = "I'm answering a lot of questions right now. Please ask me again in a minute!"
ERROR_NOTE = "Sorry, something went wrong while I was writing my answer. Please try again later."
EMPTY_NOTE = "Sorry, I don't have a good answer to that. Could you rephrase it, or ask the team?"
COOLDOWN_NOTE = "Give me a moment, please: I can answer you again in {seconds} seconds."
CROWDED_NOTE = "I'm already answering several questions here. Please ask again in a moment!"

REPLY_DEADLINE_S = 120.0  # an answer still queued or generating after this is cut short


class ChatService:
    def __init__(
        self,
        *,
        db: Database,
        writer: ArchiveWriter,
        model: ChatModel,
        settings: Settings,
        bot_user_id: int,
        bot_name: str,
        clock: Callable[[], float] = time.monotonic,
        edit_interval: float = 1.0,
    ) -> None:
        self._db = db
        self._archive = Archive(db)
        self._writer = writer
        self._model = model
        self._settings = settings
        self.bot_user_id = bot_user_id
        self.bot_name = bot_name
        self.memory = MemberMemory(db)
        self._limits = Limits(settings.member_cooldown_s, settings.channel_concurrency, clock)
        self._clock = clock
        self._edit_interval = edit_interval
        # At most half the context goes to the answer, so a large MAX_NEW_TOKENS on a
        # small model still leaves room for the question.
        self._max_new_tokens = min(settings.max_new_tokens, model.context_window // 2)
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._closing = False

    # Events -------------------------------------------------------------------------------

    async def on_message(self, msg: Incoming, out: ReplyChannel) -> None:
        """Archive ``msg`` and answer it if it is addressed to the bot; returns when done."""
        if self._closing:
            return
        try:
            await self._writer.add(msg.archived())
            if msg.author_is_bot or msg.author_id == self.bot_user_id:
                return
            if not await self._addressed(msg):
                return
            await self._remember(msg)
            if not await self._admit(msg, out):
                return
        except Exception:
            log.exception("handling message %d failed", msg.message_id)
            return
        task = asyncio.create_task(self._answer(msg, out), name=f"answer-{msg.message_id}")
        self._inflight[msg.message_id] = task
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            self._inflight.pop(msg.message_id, None)
            self._limits.finish(msg.conversation_id)

    async def on_edit(self, message_id: int, content: str, edited_at: int) -> None:
        try:
            await self._writer.edit(message_id, clean_text(content), edited_at)
        except Exception:
            log.exception("archiving the edit of message %d failed", message_id)

    async def on_delete(self, message_ids: Iterable[int]) -> None:
        """Forget deleted messages, and stop answering any of them."""
        ids = list(message_ids)
        for message_id in ids:
            task = self._inflight.get(message_id)
            if task is not None:
                task.cancel()
        try:
            await self._writer.delete_many(ids)
        except Exception:
            log.exception("removing %d deleted messages from the archive failed", len(ids))

    async def drain(self, timeout: float) -> None:
        """Shutdown: ignore new messages, let answers in progress finish, and cancel any
        still running after ``timeout`` seconds."""
        self._closing = True
        tasks = list(self._inflight.values())
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    # Steps --------------------------------------------------------------------------------

    async def _addressed(self, msg: Incoming) -> bool:
        if msg.is_dm or msg.mentions_bot or msg.reply_to_author_id == self.bot_user_id:
            return True
        if msg.thread_id is not None:
            await self._writer.flush()  # the bot's latest answer there may still be buffered
            if await self._archive.has_spoken_in_thread(msg.thread_id, self.bot_user_id):
                return True
        overrides = await load_overrides(self._db, msg.guild_id, msg.channel_id)
        if overrides.channel_answer is not None:
            return overrides.channel_answer
        rule = overrides.guild_answer_channels or self._settings.answer_channels
        return rule.includes(msg.channel_id, msg.channel_name)

    async def _remember(self, msg: Incoming) -> None:
        facts = extract_facts(clean_text(msg.content))
        if facts:
            await self.memory.remember(_memory_guild(msg), msg.author_id, msg.author_name, facts,
                                       msg.message_id, msg.created_at)

    async def _admit(self, msg: Incoming, out: ReplyChannel) -> bool:
        """Apply the limits; tell the member when they hit one (see ``policy``)."""
        member = (_memory_guild(msg), msg.author_id)
        wait = self._limits.cooldown_left(member)
        if wait > 0:
            if self._limits.should_note_cooldown(member):
                await self._note(msg, out, COOLDOWN_NOTE.format(seconds=max(1, round(wait))))
            return False
        if not self._limits.try_start(member, msg.conversation_id):
            await self._note(msg, out, CROWDED_NOTE)
            return False
        return True

    async def build_request(self, msg: Incoming) -> ChatRequest:
        """The model request answering ``msg``: persona, profile and history in budget."""
        await self._writer.flush()  # the channel's latest messages must be readable
        overrides = await load_overrides(self._db, msg.guild_id, msg.channel_id)
        facts = await self.memory.facts(_memory_guild(msg), msg.author_id)
        history = await fetch_history(self._archive, msg, self._settings.context_messages)
        # On a thread: tokenizing a long history and fitting a huge message takes a while.
        messages = await asyncio.to_thread(
            assemble,
            persona=overrides.persona or self._settings.persona,
            name=clean_text(msg.author_name) or "someone",
            facts=facts,
            history=history,
            current=clean_text(msg.content),
            bot_user_id=self.bot_user_id,
            budget=budget_for(self._model.context_window, self._max_new_tokens),
            count=self._model.count_tokens,
        )
        return ChatRequest(messages=messages, max_new_tokens=self._max_new_tokens,
                           deadline=time.monotonic() + REPLY_DEADLINE_S)

    async def _answer(self, msg: Incoming, out: ReplyChannel) -> None:
        reply = ReplyWriter(out, interval=self._edit_interval, clock=self._clock)
        try:
            async with out.typing():
                request = await self.build_request(msg)
                async with contextlib.aclosing(self._model.stream(request)) as deltas:
                    text = await reply.write(deltas)
            if text:
                await self._archive_posts(msg, reply.parts)
            else:
                await self._note(msg, out, EMPTY_NOTE)
        except asyncio.CancelledError:
            await self._withdraw(reply)
            raise
        except Busy:
            await self._note(msg, out, BUSY_NOTE)
        except Exception:
            log.exception("answering message %d failed", msg.message_id)
            await self._archive_posts(msg, reply.parts)
            await self._note(msg, out, ERROR_NOTE)

    async def _note(self, msg: Incoming, out: ReplyChannel, text: str) -> None:
        """Tell the member something short (a limit, a failure); never raises."""
        try:
            sent = await out.send(text, reply=True)
            await self._archive_posts(msg, [(sent, text)])
        except Exception:
            log.exception("could not send a note about message %d", msg.message_id)

    async def _withdraw(self, reply: ReplyWriter) -> None:
        """Delete a half-written answer to a message that was deleted meanwhile."""
        for sent in reply.sent:
            try:
                await sent.delete()
            except Exception:
                log.exception("could not delete a withdrawn answer")

    async def _archive_posts(self, msg: Incoming, parts: list[tuple[SentMessage, str]]) -> None:
        """Archive what the bot posted, as members saw it; the first part replies to ``msg``,
        each later one to the part before it. On Discord the gateway also reports the bot's
        own messages; the archive's upsert makes the two writes agree."""
        now = int(time.time() * 1000)
        previous = msg.message_id
        for sent, text in parts:
            await self._writer.add(ArchivedMessage(
                message_id=sent.id, guild_id=msg.guild_id, channel_id=msg.channel_id,
                thread_id=msg.thread_id, author_id=self.bot_user_id, author_name=self.bot_name,
                content=text, created_at=now, is_bot=True, reply_to_id=previous,
            ))
            previous = sent.id


def _memory_guild(msg: Incoming) -> int:
    return DM_GUILD if msg.guild_id is None else msg.guild_id
