"""The message pipeline: every incoming message passes the features' hooks in order.

Stages, in this order: ``ARCHIVE`` (store it), ``AUTOMOD`` (a hook may stop the message
here: nothing later sees a message automod removed), ``OBSERVE`` (features that learn from
messages: memory, classifiers), ``ANSWER`` (the chat reply). Within a stage, hooks run in
the order their features were loaded. A hook returns ``STOP`` to end the message's trip.

A hook that raises is logged and the message goes on to the next hook: one broken
feature must not silence the others, and the bot never crashes on a message.

Generated text passes the output guards (``check_output``) before anyone sees it. A guard
returns a reason to withhold the text, or None. A guard that raises withholds too: an
unchecked text is not posted.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from bot.core.messages import Incoming, ReplyChannel

log = logging.getLogger(__name__)


class Stage(enum.IntEnum):
    ARCHIVE = 1
    AUTOMOD = 2
    OBSERVE = 3
    ANSWER = 4


STOP = "stop"  # what a hook returns to stop the message here


class MessageEvent:
    """One message on its way through the hooks. ``addressed()`` says whether it is meant
    for the bot (a mention, a reply, a DM, an answer channel); it is asked once and
    remembered, because memory and chat both need it and it may read the database.
    ``labels`` is what OBSERVE hooks learnt about the message for the answer to use (the
    insights feature's "sentiment", "intent" and "mood": "upset"). ``store`` is False when
    the member's consent forbids keeping the message (the privacy feature decides, first
    of all): the archive and memory then keep nothing of it."""

    def __init__(self, msg: Incoming, out: ReplyChannel,
                 addressing: Callable[[Incoming], Awaitable[bool]]) -> None:
        self.msg = msg
        self.out = out
        self._addressing = addressing
        self._addressed: bool | None = None
        self.labels: dict[str, str] = {}
        self.store = True

    async def addressed(self) -> bool:
        if self._addressed is None:
            self._addressed = await self._addressing(self.msg)
        return self._addressed


MessageHandler = Callable[[MessageEvent], Awaitable[str | None]]


@dataclass(frozen=True)
class Edit:
    """An edited message: its new content, when, and the whole message as features see
    it when the adapter has it (Discord's edit event carries the author), else None."""

    message_id: int
    content: str
    edited_at: int
    message: Incoming | None = None


EditHandler = Callable[[Edit], Awaitable[None]]
DeleteHandler = Callable[[Sequence[int]], Awaitable[None]]


@dataclass(frozen=True)
class MessageHook:
    stage: Stage
    handler: MessageHandler = field(compare=False)


@dataclass(frozen=True)
class OutputCheck:
    """Text about to be posted, and where; ``purpose`` is "answer" or "draft"."""

    text: str
    guild_id: int | None
    channel_id: int
    purpose: str = "answer"


OutputGuard = Callable[[OutputCheck], Awaitable[str | None]]


class Pipeline:
    def __init__(self, addressing: Callable[[Incoming], Awaitable[bool]]) -> None:
        self._addressing = addressing
        self._hooks: list[tuple[Stage, int, str, MessageHandler]] = []
        self._edits: list[tuple[str, EditHandler]] = []
        self._deletes: list[tuple[str, DeleteHandler]] = []
        self._guards: list[tuple[str, OutputGuard]] = []
        self._closing = False

    def add(self, feature: str, hooks: Iterable[MessageHook], edit: EditHandler | None,
            delete: DeleteHandler | None, guards: Iterable[OutputGuard]) -> None:
        for hook in hooks:
            self._hooks.append((hook.stage, len(self._hooks), feature, hook.handler))
        self._hooks.sort(key=lambda h: (h[0], h[1]))  # by stage, then load order
        if edit is not None:
            self._edits.append((feature, edit))
        if delete is not None:
            self._deletes.append((feature, delete))
        self._guards.extend((feature, guard) for guard in guards)

    def close(self) -> None:
        """Shutdown: messages arriving from now on are ignored."""
        self._closing = True

    async def on_message(self, msg: Incoming, out: ReplyChannel) -> None:
        """Run the hooks for ``msg``; returns when the last one (an answer) is done."""
        if self._closing:
            return
        event = MessageEvent(msg, out, self._addressing)
        for stage, _, feature, handler in self._hooks:
            try:
                if await handler(event) == STOP:
                    log.debug("message %d stopped by %s at %s", msg.message_id, feature, stage.name)
                    return
            except Exception:
                log.exception("%s: the %s hook failed on message %d", feature,
                              stage.name.lower(), msg.message_id)

    async def on_edit(self, message_id: int, content: str, edited_at: int,
                      message: Incoming | None = None) -> None:
        if self._closing:
            return
        edit = Edit(message_id, content, edited_at, message)
        for feature, handler in self._edits:
            try:
                await handler(edit)
            except Exception:
                log.exception("%s: handling the edit of message %d failed", feature, message_id)

    async def on_delete(self, message_ids: Iterable[int]) -> None:
        ids = list(message_ids)
        for feature, handler in self._deletes:
            try:
                await handler(ids)
            except Exception:
                log.exception("%s: handling %d deleted messages failed", feature, len(ids))

    async def check_output(self, check: OutputCheck) -> str | None:
        """None when every guard lets ``check.text`` through, else the first reason."""
        for feature, guard in self._guards:
            try:
                reason = await guard(check)
            except Exception:
                log.exception("%s: an output guard failed; withholding the text", feature)
                return f"{feature}'s guard failed"
            if reason:
                return reason
        return None
