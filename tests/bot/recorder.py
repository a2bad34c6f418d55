"""A ReplyChannel that records what the bot did, for domain tests (no Discord involved)."""

import asyncio
import itertools
from contextlib import asynccontextmanager

# One id sequence for members' and the bot's messages: like Discord snowflakes, later
# messages have larger ids, which the archive's ordering relies on.
_ids = itertools.count(1_000)


def next_id():
    return next(_ids)


class RecordedMessage:
    def __init__(self, recorder, message_id):
        self._recorder = recorder
        self.id = message_id

    async def edit(self, text):
        self._recorder.ops.append(("edit", self.id, text))

    async def delete(self):
        self._recorder.ops.append(("delete", self.id))


class Recorder:
    def __init__(self, *, writable=True):
        self.ops = []
        self.typing_started = asyncio.Event()
        self.writable = writable

    def can_send(self):
        return self.writable

    @asynccontextmanager
    async def typing(self):
        self.typing_started.set()
        yield

    async def send(self, text, *, reply):
        message = RecordedMessage(self, next_id())
        self.ops.append(("send", message.id, text, reply))
        return message

    def final_texts(self):
        """Each posted message's last text, in posting order, without deleted ones."""
        texts = {}
        for op in self.ops:
            if op[0] in ("send", "edit"):
                texts[op[1]] = op[2]
            else:
                texts.pop(op[1], None)
        return list(texts.values())
