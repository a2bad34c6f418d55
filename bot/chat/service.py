"""The chat answer: the last hook of the message pipeline, and what it does on edits and
deletions.

A message addressed to the bot (``bot.core.addressing``) is answered by the model,
streamed into the channel past the output guards. The answer hook never raises into the
pipeline: whatever fails is logged, and the member gets a short friendly note instead of
silence or a traceback. The only exception that propagates is cancellation, which
adapters use on shutdown.

Before the model is asked, the grounder (``bot.grounding``) looks the message up in the
shop's knowledge base: a factual question is answered from the entries' own words with
its source, or declined honestly with an offer of the team; only small talk and opinions
reach the model, and what the model writes there may not state a shop fact (a price, a
duration, an address) at all, since it has none to cite.

Archiving the member's message is the archive feature's hook and remembering facts is the
memory feature's; both run before this one, so "I'm a size M, which shirt?" is answered
with the size already in the profile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable

from bot.chat.context import assemble, budget_for, fetch_history
from bot.chat.limits import Limits
from bot.chat.memory import MemberMemory
from bot.chat.streaming import ReplyWriter, Withheld
from bot.core.guilds import GuildSettings
from bot.core.messages import Incoming, MessageGone, ReplyChannel, SentMessage
from bot.core.pipeline import MessageEvent, OutputCheck, Pipeline
from bot.core.posting import ChannelTarget, Poster, post_to_modlog
from bot.core.replies import Reply
from bot.core.text import clean_text, sanitize, split_message
from bot.config import Settings
from bot.grounding import Grounder, Outcome, unsupported
from bot.grounding.compose import decline, human_offer
from bot.kb.terms import mostly_cjk
from bot.model import Busy, ChatModel, ChatRequest
from bot.store import ArchivedMessage, ArchiveWriter, Archive

log = logging.getLogger(__name__)

BUSY_NOTE = "I'm answering a lot of questions right now. Please ask me again in a minute!"
ERROR_NOTE = "Sorry, something went wrong while I was writing my answer. Please try again later."
EMPTY_NOTE = "Sorry, I don't have a good answer to that. Could you rephrase it, or ask the team?"
COOLDOWN_NOTE = "Give me a moment, please: I can answer you again in {seconds} seconds."
CROWDED_NOTE = "I'm already answering several questions here. Please ask again in a moment!"
APOLOGY = "I'm sorry about the trouble."
WITHHELD_NOTE = ("I started an answer but held it back: it did not pass this server's content "
                 "rules. A team member can help you instead.")

REPLY_DEADLINE_S = 120.0  # an answer still queued or generating after this is cut short
REGENERATIONS = 1  # a reply an output guard refused is written once more before the safe note
RECENT_FOR_INTERESTS = 4   # the member's last messages searched for products named earlier
STAFF_QUOTE_CHARS = 300


class ChatService:
    def __init__(
        self,
        *,
        archive: Archive,
        writer: ArchiveWriter,
        memory: MemberMemory,
        model: ChatModel,
        guilds: GuildSettings,
        pipeline: Pipeline,
        settings: Settings,
        grounder: Grounder,
        poster: Poster,
        bot_user_id: int,
        bot_name: str,
        clock: Callable[[], float] = time.monotonic,
        edit_interval: float = 1.0,
    ) -> None:
        self._archive = archive
        self._writer = writer
        self._model = model
        self._guilds = guilds
        self._pipeline = pipeline
        self._settings = settings
        self._grounder = grounder
        self._poster = poster
        self.bot_user_id = bot_user_id
        self.bot_name = bot_name
        self._memory = memory
        self._limits = Limits(settings.member_cooldown_s, settings.channel_concurrency, clock)
        self._clock = clock
        self._edit_interval = edit_interval
        # At most half the context goes to the answer, so a large MAX_NEW_TOKENS on a
        # small model still leaves room for the question.
        self._max_new_tokens = min(settings.max_new_tokens, model.context_window // 2)
        self._inflight: dict[int, asyncio.Task[None]] = {}
        self._unstored: set[int] = set()  # messages whose member may not be archived
        self._closing = False

    # Hooks ---------------------------------------------------------------------------------

    async def answer(self, event: MessageEvent) -> None:
        """The ANSWER hook: answer ``event.msg`` if it is addressed to the bot; returns when
        the answer is done."""
        msg, out = event.msg, event.out
        if self._closing or not await event.addressed():
            return
        if not out.can_send():
            return  # the adapter logged why; the member keeps their cooldown
        if not await self._admit(msg, out):
            return
        upset = event.labels.get("mood") == "upset"
        if not event.store:  # the member's consent: nothing of this exchange is kept
            self._unstored.add(msg.message_id)
        task = asyncio.create_task(self._answer(msg, out, upset), name=f"answer-{msg.message_id}")
        self._inflight[msg.message_id] = task
        try:
            await asyncio.wait([task])
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            self._inflight.pop(msg.message_id, None)
            self._unstored.discard(msg.message_id)
            self._limits.finish(msg.conversation_id)

    async def on_delete(self, message_ids: Iterable[int]) -> None:
        """Stop answering deleted questions (the archive feature forgets the messages)."""
        for message_id in message_ids:
            task = self._inflight.get(message_id)
            if task is not None:
                task.cancel()

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

    async def _admit(self, msg: Incoming, out: ReplyChannel) -> bool:
        """Apply the limits; tell the member when they hit one (see ``limits``)."""
        member = (msg.guild_key, msg.author_id)
        wait = self._limits.cooldown_left(member)
        if wait > 0:
            if self._limits.should_note_cooldown(member):
                await self._note(msg, out, COOLDOWN_NOTE.format(seconds=max(1, round(wait))))
            return False
        if not self._limits.try_start(member, msg.conversation_id):
            await self._note(msg, out, CROWDED_NOTE)
            return False
        return True

    async def build_request(self, msg: Incoming, upset: bool = False) -> ChatRequest:
        """The model request answering ``msg``: persona, profile and history in budget;
        for an ``upset`` member, the system turn asks for an apology and next steps."""
        await self._writer.flush()  # the channel's latest messages must be readable
        persona = await self._guilds.persona(msg.guild_id, msg.channel_id)
        facts = await self._memory.facts(msg.guild_key, msg.author_id)
        history = await fetch_history(self._archive, msg, self._settings.context_messages)
        # On a thread: tokenizing a long history and fitting a huge message takes a while.
        messages = await asyncio.to_thread(
            assemble,
            persona=persona,
            name=clean_text(msg.author_name) or "someone",
            facts=facts,
            history=history,
            current=clean_text(msg.content),
            bot_user_id=self.bot_user_id,
            budget=budget_for(self._model.context_window, self._max_new_tokens),
            count=self._model.count_tokens,
            count_prompt=self._model.count_prompt,
            upset=upset,
        )
        return ChatRequest(messages=messages, max_new_tokens=self._max_new_tokens,
                           deadline=time.monotonic() + REPLY_DEADLINE_S)

    async def ground(self, msg: Incoming) -> Outcome:
        """How the knowledge base says to answer ``msg`` (``bot.grounding``)."""
        await self._writer.flush()
        earlier = await self._archive.by_author(msg.guild_key, msg.author_id,
                                                RECENT_FOR_INTERESTS + 1)
        recent = [m.content for m in reversed(earlier) if m.message_id < msg.message_id]
        return await self._grounder.respond(msg.guild_key, clean_text(msg.content), recent)

    async def decline_text(self, msg: Incoming) -> str:
        staff = await self._guilds.staff(msg.guild_id)
        return decline(staff.role_id, staff.channel_id, staff.ping, chinese=mostly_cjk(msg.content))

    async def human_offer(self, msg: Incoming) -> str:
        staff = await self._guilds.staff(msg.guild_id)
        return human_offer(staff.role_id, staff.channel_id)

    async def _answer(self, msg: Incoming, out: ReplyChannel, upset: bool = False) -> None:
        """Answer ``msg``. An ``upset`` member (a negative message) gets the apologetic
        prompt, or an apology before a knowledge-base answer, and the offer of a person."""
        invented: list[str] = []

        async def guard(text: str) -> str | None:
            return await self._pipeline.check_output(
                OutputCheck(text, msg.guild_id, msg.conversation_id, "answer"))

        async def chat_guard(text: str) -> str | None:
            """Small talk has no entries to cite, so it may state no shop fact."""
            problems = unsupported(text, (), strict=False)
            if problems:
                invented.extend(map(str, problems))
                return f"states a fact it cannot cite ({invented[0]})"
            return await guard(text)

        reply = ReplyWriter(out, interval=self._edit_interval, clock=self._clock, guard=chat_guard)
        try:
            async with out.typing():
                outcome = await self.ground(msg)
                if outcome.kind != "chat":
                    await self._grounded(msg, out, outcome, guard, upset)
                    return
                request = await self.build_request(msg, upset)
                for attempt in range(1 + REGENERATIONS):
                    try:
                        async with contextlib.aclosing(self._model.stream(request)) as deltas:
                            text = await reply.write(deltas)
                        break
                    except Withheld as exc:
                        if invented or attempt == REGENERATIONS:
                            raise
                        # A guard refused it (a banned word, a link, toxicity): moderators
                        # hear of it, and the model gets one more try before the safe note.
                        await self._withdraw(reply)
                        await self._tell_moderators(msg, str(exc))
                        reply = ReplyWriter(out, interval=self._edit_interval, clock=self._clock,
                                            guard=chat_guard)
            if text:
                await self._archive_posts(msg, reply.parts)
                if upset:
                    await self._note(msg, out, await self.human_offer(msg))
            else:
                await self._note(msg, out, EMPTY_NOTE)
        except asyncio.CancelledError:
            await self._withdraw(reply)
            raise
        except MessageGone:
            # A moderator deleted the answer mid-stream: it was withdrawn, on purpose.
            log.info("the answer to message %d was deleted while being written", msg.message_id)
            await self._withdraw(reply)
        except Withheld as exc:
            log.warning("withheld the answer to message %d: %s", msg.message_id, exc)
            await self._withdraw(reply)
            if invented:
                await self._decline(msg, out)
            else:
                await self._note(msg, out, WITHHELD_NOTE)
        except Busy:
            await self._note(msg, out, BUSY_NOTE)
        except Exception:
            log.exception("answering message %d failed", msg.message_id)
            await self._archive_posts(msg, reply.parts)
            await self._note(msg, out, ERROR_NOTE)

    async def _tell_moderators(self, msg: Incoming, reason: str) -> None:
        """A withheld answer is logged, and posted to the mod-log channel when it is set."""
        log.warning("withheld a generated answer to message %d in guild %s: %s",
                    msg.message_id, msg.guild_id, reason)
        if msg.guild_id:
            await post_to_modlog(self._guilds, self._poster, msg.guild_id,
                                 f"I withheld an answer I wrote to a message in <#{msg.channel_id}> "
                                 f"({sanitize(reason)}) and wrote it again.")

    async def _grounded(self, msg: Incoming, out: ReplyChannel, outcome: Outcome, guard,
                        upset: bool = False) -> None:
        """Post an answer from the knowledge base, or the honest decline (which offers the
        team already)."""
        if outcome.kind == "decline":
            await self._decline(msg, out)
            return
        text = sanitize(outcome.text)
        if upset and not mostly_cjk(msg.content):
            text = f"{APOLOGY}\n{text}\n{await self.human_offer(msg)}"
        reason = await guard(text)
        if reason:
            log.warning("withheld the knowledge-base answer to message %d: %s",
                        msg.message_id, reason)
            await self._note(msg, out, WITHHELD_NOTE)
            return
        parts = []
        for i, chunk in enumerate(split_message(text)):
            parts.append((await out.send(chunk, reply=i == 0), chunk))
        await self._archive_posts(msg, parts)

    async def _decline(self, msg: Incoming, out: ReplyChannel) -> None:
        """Say "I don't know" with the team's offer, and ping the staff role where the
        guild allows it (a separate post, in the staff channel if there is one)."""
        await self._note(msg, out, await self.decline_text(msg))
        staff = await self._guilds.staff(msg.guild_id)
        if msg.guild_id is None or staff.role_id is None or not staff.ping:
            return
        question = sanitize(clean_text(msg.content))[:STAFF_QUOTE_CHARS]
        text = (f"<@&{staff.role_id}> {sanitize(msg.author_name)} asked something I could "
                f"not answer in <#{msg.channel_id}>:\n> {question}")
        target = ChannelTarget(msg.guild_id, staff.channel_id or msg.channel_id)
        try:
            await self._poster.send(target, Reply(text, ping_role=staff.role_id))
        except Exception:
            log.exception("could not call the staff about message %d", msg.message_id)

    async def _note(self, msg: Incoming, out: ReplyChannel, text: str) -> None:
        """Tell the member something short (a limit, a failure); never raises."""
        try:
            sent = await out.send(text, reply=True)
            await self._archive_posts(msg, [(sent, text)])
        except Exception:
            log.exception("could not send a note about message %d", msg.message_id)

    async def _withdraw(self, reply: ReplyWriter) -> None:
        """Delete a half-written answer (its question was deleted, or it was withheld)."""
        for sent in reply.sent:
            try:
                await sent.delete()  # adapters treat "already gone" as done
            except Exception:
                log.exception("could not delete a withdrawn answer")

    async def _archive_posts(self, msg: Incoming, parts: list[tuple[SentMessage, str]]) -> None:
        """Archive what the bot posted, as members saw it; the first part replies to ``msg``,
        each later one to the part before it, and each names the member it answered. On
        Discord the gateway also reports the bot's own messages, without those links; the
        archive's upsert keeps the links whichever write comes first. Nothing is archived
        for a member whose consent keeps their own message out."""
        if msg.message_id in self._unstored:
            return
        now = int(time.time() * 1000)
        previous = msg.message_id
        for sent, text in parts:
            await self._writer.add(ArchivedMessage(
                message_id=sent.id, guild_id=msg.guild_key, channel_id=msg.channel_id,
                thread_id=msg.thread_id, author_id=self.bot_user_id, author_name=self.bot_name,
                content=text, created_at=now, is_bot=True, reply_to_id=previous,
                answered_user_id=msg.author_id,
            ))
            previous = sent.id
