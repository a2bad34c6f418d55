"""The console adapter: one simulated guild on stdin/stdout, same handlers as Discord.

Input lines:
    name: text         post as member `name` in the current channel
    name: @bot text    mention the bot (it always answers a mention)
    name: ^ text       reply to the bot's latest message in this channel
    name: /cmd a=b     run a command as `name` (`name: /help` lists what they may run)
    name: !press N     press button or option N of the latest reply that showed choices
    name: !form text="..."  submit the latest form shown (fields left out keep their text)
    name: !on @ana Report to moderators
                       run a message command on ana's latest message in this channel
    #channel           switch channel: #general, #support, #announcements, #mod-log, or
                       #dm for each member's direct messages with the bot
    /help, /quit

The bot's posts print as ``[bot] text`` once an answer is complete, so piped output is
clean and deterministic; private command answers print as ``[bot → name] text``, and
posts a feature makes elsewhere as ``[bot → #channel] text``. With a terminal, answers
run in the background while you keep typing; with piped input the lines run one after
another, and the program exits when the last answer is printed.

Members named with ``--mods`` hold every permission (as a server administrator does);
everyone else holds none, so restricted commands are refused to them exactly as on
Discord, by the same check.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shlex
import sys
import threading
import time
from datetime import timezone
from pathlib import Path
from typing import TextIO

from bot.console.commands import UnknownCommand, raw_arguments, split_command
from bot.console.members import ConsoleMembers
from bot.console.output import HISTORY, ConsolePoster, ConsoleReply, Screen
from bot.console.world import (BOT_ID, BOT_NAME, CHANNELS, DM, GUILD_ID, ROLES, Snowflakes,
                               member_id)
from bot.core.commands import ADMINISTRATOR, ArgumentError, Caller, MessageRef, commands_for
from bot.core.dispatch import press, run_command, run_message_command
from bot.core.messages import Incoming
from bot.core.posting import ChannelTarget, Posted
from bot.core.replies import Reply
from bot.core.text import defuse_mentions
from bot.runtime import Runtime

log = logging.getLogger(__name__)

_NAME = re.compile(r"^([A-Za-z0-9_.-]{1,32}):\s?(.*)$", re.DOTALL)
_MENTION = re.compile(rf"@{BOT_NAME}\b", re.IGNORECASE)
_PRESS = re.compile(r"^!press\s+(\d{1,3})$")
_ON = re.compile(r"^!on\s+@?([A-Za-z0-9_.-]{1,32})\s+(.+)$")
HELP = __doc__.split("Input lines:\n", 1)[1].split("\n\n", 1)[0]


class Console:
    """The simulated community. Create it first (features post through its ``poster``
    while the runtime starts), then ``attach`` the started runtime."""

    def __init__(self, *, mods: frozenset[str] = frozenset(), out: TextIO = sys.stdout,
                 files_dir: Path = Path("data/console")) -> None:
        self._mods = {m.lower() for m in mods}
        self._out = out
        self._new_id = Snowflakes()
        self._names: dict[int, str] = {}  # members seen: user id -> name
        for name in mods:
            self._names[member_id(name)] = name
        self.screen = Screen(self.print, files_dir)
        self.poster = ConsolePoster(self.screen, self._new_id,
                                    lambda user_id: self._names.get(user_id, str(user_id)))
        self.members = ConsoleMembers(self.print, self._names.get,
                                      lambda user_id: self._names.get(user_id, "").lower() in self._mods,
                                      self.poster)
        self._rt: Runtime | None = None
        self.channel = "general"
        self._last_bot_message: dict[tuple[str, int | None], int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def attach(self, runtime: Runtime) -> None:
        self._rt = runtime

    def print(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()

    @property
    def prompt(self) -> str:
        return f"#{self.channel}> "

    async def handle_line(self, line: str, *, background: bool = False) -> bool:
        """Process one input line; False when the user asked to quit. Never raises: a line
        that breaks something is logged and answered with one line, like on Discord."""
        try:
            return await self._handle(line, background)
        except Exception:
            log.exception("console: the line %r failed", line[:80])
            self.print("? that line failed (see the log); the bot keeps running")
            return True

    async def _handle(self, line: str, background: bool) -> bool:
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
        else:
            name, text = match[1], match[2]
            self._names[member_id(name)] = name
            if text.startswith("/"):
                await self._command(name, text[1:])
            elif (pressed := _PRESS.match(text.strip())) is not None:
                await self._press(name, int(pressed[1]))
            elif text.strip().startswith("!form"):
                await self._form(name, text.strip()[5:])
            elif (on := _ON.match(text.strip())) is not None:
                await self._message_command(name, on[1], on[2])
            elif background:
                task = asyncio.create_task(self._post(name, text))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            else:
                await self._post(name, text)
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

    def _is_mod(self, name: str) -> bool:
        return name.lower() in self._mods

    def _permissions(self, name: str) -> frozenset[str]:
        return frozenset({ADMINISTRATOR}) if self._is_mod(name) else frozenset()

    def _caller(self, name: str) -> Caller:
        dm = self.channel == DM
        return Caller(user_id=member_id(name), name=name, guild_id=None if dm else GUILD_ID,
                      channel_id=member_id(f"dm:{name}") if dm else CHANNELS[self.channel],
                      permissions=self._permissions(name))

    async def _post(self, name: str, text: str) -> None:
        author = member_id(name)
        channel = self.channel
        dm = channel == DM
        if not dm and self.members.muted(author):
            self.print(f"[server] {name} is timed out and cannot post")
            return
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
            author_roles=frozenset({ROLES["moderators" if self._is_mod(name) else "members"]}),
            author_permissions=self._permissions(name),
        )
        if not dm:
            self.poster.record(Posted(msg.message_id, channel_id, author, text, msg.created_at))
        reply = ConsoleReply(channel, self._new_id)
        await self._rt.pipeline.on_message(msg, reply)
        for message in reply.posted:
            if message.deleted:
                continue
            if not dm:
                self.poster.record(Posted(message.id, channel_id, BOT_ID, message.text,
                                          int(time.time() * 1000)))
            self._last_bot_message[key] = message.id
            where = "" if channel == self.channel else f" in #{channel}"
            to = f" → {name}" if dm else ""
            self.print(f"[{BOT_NAME}{where}{to}] {defuse_mentions(message.text)}")

    async def _command(self, name: str, line: str) -> None:
        caller = self._caller(name)
        features = self._rt.features
        allowed = commands_for(caller, features.commands)
        if line.split(maxsplit=1)[0:1] == ["help"]:
            lines = [f"{c.usage()}  {c.description}" for c in allowed]
            self._show(name, Reply("Commands you can use here:\n" + "\n".join(lines)))
            return
        try:
            command, words = split_command(features, line, allowed)
            raw = raw_arguments(command, words, {n.lower() for n in self._names.values()})
        except (UnknownCommand, ArgumentError) as exc:
            self._show(name, Reply(str(exc)))
            return
        services = getattr(self._rt, "services", None)  # a bare feature set in tests has none
        tz = services.guilds.tz(caller.guild_id) if services else timezone.utc
        self._show(name, await run_command(command, caller, raw, tz))

    async def _press(self, name: str, number: int) -> None:
        if not 1 <= number <= len(self.screen.choices):
            self.print(f"? no choice [{number}] on screen")
            return
        custom_id, values = self.screen.choices[number - 1]
        self._show(name, await press(self._rt.features, self._caller(name), custom_id, values))

    async def _form(self, name: str, rest: str) -> None:
        form = self.screen.form
        if form is None:
            self.print("? no form on screen")
            return
        try:
            pairs = [word.partition("=") for word in shlex.split(rest)]
        except ValueError as exc:
            self.print(f"? cannot read that form: {exc}")
            return
        known = {f.name: f.value for f in form.fields}
        unknown = [key for key, _, _ in pairs if key not in known]
        if unknown:
            self.print(f"? the form has no field {unknown[0]!r}; fields: {', '.join(known)}")
            return
        values = known | {key: value for key, _, value in pairs}
        self.screen.form = None
        self._show(name, await press(self._rt.features, self._caller(name), form.custom_id,
                                     form=values))

    async def _message_command(self, name: str, author: str, command_name: str) -> None:
        command = next((c for n, c in self._rt.features.message_commands.items()
                        if n.casefold() == command_name.strip().casefold()), None)
        if command is None:
            names = ", ".join(self._rt.features.message_commands) or "none"
            self.print(f"? no message command {command_name!r}; there are: {names}")
            return
        if self.channel == DM:
            self._show(name, Reply("Message commands work in a server channel.", private=True))
            return
        author_id = BOT_ID if author.lower() == BOT_NAME else member_id(author)
        history = await self.poster.history(ChannelTarget(GUILD_ID, CHANNELS[self.channel]), HISTORY)
        target = next((p for p in history if p.author_id == author_id), None)
        if target is None:
            self.print(f"? no message by {author} in #{self.channel}")
            return
        ref = MessageRef(target.message_id, target.channel_id, author_id,
                         BOT_NAME if author_id == BOT_ID else author, target.content,
                         target.created_at, author_is_bot=author_id == BOT_ID)
        self._show(name, await run_message_command(command, self._caller(name), ref))

    def _show(self, name: str, reply: Reply) -> None:
        public = reply.private is False and self.channel != DM
        self.screen.reply(f"[{BOT_NAME}]" if public else f"[{BOT_NAME} → {name}]", reply)


async def run_console(console: Console, *, stdin: TextIO = sys.stdin) -> None:
    """Read lines until EOF or /quit, then wait for answers still being written."""
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
