"""The console adapter: one simulated guild on stdin/stdout, same handlers as Discord.

Input lines:
    name: text         post as member `name` in the current channel
    name: @bot text    mention the bot (it always answers a mention)
    name: ^ text       reply to the bot's latest message in this channel
    name: /command     run a member command (/memory, /forget; moderators may add a name)
    #channel           switch channel: #general, #support, #announcements, or #dm for
                       each member's direct messages with the bot
    /help, /quit

The bot's posts print as ``[bot] text`` once an answer is complete, so piped output is
clean and deterministic; private command answers print as ``[bot → name] text``. With a
terminal, answers run in the background while you keep typing; with piped input the lines
run one after another, and the program exits when the last answer is printed.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import sys
import threading
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TextIO

from bot.chat.commands import Target, forget_memory, show_memory
from bot.chat.events import Caller, Incoming
from bot.chat.service import ChatService
from bot.chat.text import defuse_mentions

GUILD_ID = 1
BOT_ID = 2
BOT_NAME = "bot"
CHANNELS = {"general": 11, "support": 12, "announcements": 13}
DM = "dm"
DISCORD_EPOCH_MS = 1_420_070_400_000

_NAME = re.compile(r"^([A-Za-z0-9_.-]{1,32}):\s?(.*)$", re.DOTALL)
_MENTION = re.compile(rf"@{BOT_NAME}\b", re.IGNORECASE)
HELP = __doc__.split("Input lines:\n", 1)[1].split("\n\n", 1)[0]


def member_id(name: str) -> int:
    """A stable id per name, so memory survives console restarts on the same database."""
    digest = hashlib.sha256(name.lower().encode()).digest()
    return int.from_bytes(digest[:6], "big") + 1000


class Snowflakes:
    """Discord-style ids: time-ordered and unique, also across runs on one database."""

    def __init__(self) -> None:
        self._last = 0

    def __call__(self) -> int:
        self._last = max(self._last + 1, (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22)
        return self._last


@dataclass
class ConsoleMessage:
    channel: str
    id: int
    text: str
    deleted: bool = False

    async def edit(self, text: str) -> None:
        self.text = text

    async def delete(self) -> None:
        self.deleted = True


@dataclass
class ConsoleReply:
    """Collects what the bot posts for one message; printed when the answer is done."""

    channel: str
    new_id: Snowflakes
    posted: list[ConsoleMessage] = field(default_factory=list)

    @asynccontextmanager
    async def typing(self):
        yield

    async def send(self, text: str, *, reply: bool) -> ConsoleMessage:
        message = ConsoleMessage(self.channel, self.new_id(), text)
        self.posted.append(message)
        return message


class Console:
    def __init__(self, chat: ChatService, *, mods: frozenset[str] = frozenset(),
                 out: TextIO = sys.stdout) -> None:
        self._chat = chat
        self._mods = {m.lower() for m in mods}
        self._out = out
        self._new_id = Snowflakes()
        self.channel = "general"
        self._last_bot_message: dict[tuple[str, int | None], int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def print(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()

    @property
    def prompt(self) -> str:
        return f"#{self.channel}> "

    async def handle_line(self, line: str, *, background: bool = False) -> bool:
        """Process one input line; False when the user asked to quit."""
        line = line.strip()
        if not line:
            return True
        if line in ("/quit", "/exit"):
            return False
        if line == "/help":
            self.print(HELP)
        elif line.startswith("#"):
            self._switch(line[1:].strip().lower())
        elif (match := _NAME.match(line)) is None:
            self.print("? expected `name: text`, `#channel`, /help or /quit")
        elif match[1].lower() == BOT_NAME:
            self.print(f"? {BOT_NAME} is the bot's name; pick another member name")
        elif match[2].startswith("/"):
            await self._command(match[1], match[2][1:])
        else:
            work = self._post(match[1], match[2])
            if background:
                task = asyncio.create_task(work)
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            else:
                await work
        return True

    async def wait_pending(self) -> None:
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    def _switch(self, name: str) -> None:
        if name in CHANNELS or name == DM:
            self.channel = name
        else:
            self.print(f"? no channel #{name}; channels: "
                       + ", ".join(f"#{c}" for c in [*CHANNELS, DM]))

    async def _post(self, name: str, text: str) -> None:
        author = member_id(name)
        channel = self.channel
        dm = channel == DM
        channel_id = member_id(f"dm:{name}") if dm else CHANNELS[channel]
        key = (channel, author if dm else None)
        reply_to = None
        if text.startswith("^"):
            text = text[1:].lstrip()
            reply_to = self._last_bot_message.get(key)
            if reply_to is None:
                self.print(f"? nothing of the bot's to reply to in #{channel}")
                return
        msg = Incoming(
            message_id=self._new_id(), guild_id=None if dm else GUILD_ID, channel_id=channel_id,
            channel_name="" if dm else channel, author_id=author, author_name=name,
            content=text, created_at=int(time.time() * 1000), reply_to_id=reply_to,
            reply_to_author_id=BOT_ID if reply_to else None,
            mentions_bot=bool(_MENTION.search(text)),
        )
        reply = ConsoleReply(channel, self._new_id)
        await self._chat.on_message(msg, reply)
        for message in reply.posted:
            if message.deleted:
                continue
            self._last_bot_message[key] = message.id
            where = "" if channel == self.channel else f" in #{channel}"
            to = f" → {name}" if dm else ""
            self.print(f"[{BOT_NAME}{where}{to}] {defuse_mentions(message.text)}")

    async def _command(self, name: str, command_line: str) -> None:
        command, _, argument = command_line.partition(" ")
        caller = Caller(user_id=member_id(name), name=name,
                        guild_id=None if self.channel == DM else GUILD_ID,
                        is_moderator=name.lower() in self._mods)
        argument = argument.strip().lstrip("@")
        target = Target(member_id(argument), argument) if argument else None
        if command == "memory":
            text = await show_memory(self._chat.memory, caller, target)
        elif command == "forget":
            text = await forget_memory(self._chat.memory, caller, target)
        else:
            text = f"Unknown command /{command}. Commands: /memory, /forget."
        self.print(f"[{BOT_NAME} → {name}] {text}")


async def run_console(chat: ChatService, *, mods: frozenset[str], stdin: TextIO = sys.stdin,
                      out: TextIO = sys.stdout) -> None:
    """Read lines until EOF or /quit, then wait for answers still being written."""
    console = Console(chat, mods=mods, out=out)
    if hasattr(stdin, "reconfigure"):
        stdin.reconfigure(errors="replace")  # binary input must not stop the console
    interactive = stdin.isatty()
    if interactive:
        console.print(HELP)
    lines = _LineReader(stdin, interactive, lambda: console.prompt)
    try:
        while (line := await lines.next()) and await console.handle_line(line, background=interactive):
            pass
    finally:
        await console.wait_pending()


class _LineReader:
    """Reads stdin on a daemon thread, one line per request.

    Not the loop's default executor: a thread blocked in ``input()`` there would keep
    ``asyncio.run`` from exiting after Ctrl-C until the user pressed Enter. One line per
    request, so the prompt shows the channel chosen by the line before.
    """

    def __init__(self, stdin: TextIO, interactive: bool, prompt) -> None:
        self._stdin = stdin
        self._interactive = interactive
        self._prompt = prompt
        self._wanted = threading.Semaphore(0)
        self._lines: asyncio.Queue[str] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        threading.Thread(target=self._run, name="console-stdin", daemon=True).start()

    async def next(self) -> str:
        """The next line, or "" at end of input."""
        self._wanted.release()
        return await self._lines.get()

    def _run(self) -> None:
        line = None
        while line != "":
            self._wanted.acquire()
            try:
                line = input(self._prompt()) + "\n" if self._interactive else self._stdin.readline()
            except EOFError:
                line = ""
            self._loop.call_soon_threadsafe(self._lines.put_nowait, line)
