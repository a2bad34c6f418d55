"""The Discord bot: a ``commands.Bot`` whose ``setup_hook`` starts the shared runtime.

Shutdown order matters: answers in progress still need the HTTP session to post their
last edits, so on SIGINT/SIGTERM the runtime closes first (answers finish, the model
drains, the archive flushes, the database closes) and only then does discord.py close
its connections.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import discord
from discord.ext import commands

from bot import runtime
from bot.config import ConfigError, Settings
from bot.discord_app.cogs.chat import ChatCog
from bot.discord_app.cogs.memory import MemoryCog
from bot.discord_app.convert import no_pings
from bot.model import ChatModel

log = logging.getLogger(__name__)


def make_intents() -> discord.Intents:
    intents = discord.Intents.default()
    # Privileged: enable "Message Content Intent" for the bot in the Developer Portal.
    intents.message_content = True
    return intents


class ShopBot(commands.Bot):
    def __init__(self, settings: Settings, model_dir: Path) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=make_intents(),
            allowed_mentions=no_pings(),  # a default for any send that forgets to pass one
        )
        self.settings = settings
        self.model_dir = model_dir
        self.runtime: runtime.Runtime | None = None

    async def setup_hook(self) -> None:
        model: ChatModel = await runtime.load_model(self.model_dir)
        try:
            self.runtime = await runtime.start(self.settings, model, bot_user_id=self.user.id,
                                               bot_name=self.user.display_name)
        except BaseException:
            await model.close()
            raise
        await self.add_cog(ChatCog(self, self.runtime.chat, ping_author=self.settings.reply_ping))
        await self.add_cog(MemoryCog(self.runtime.chat.memory))
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """Instantly to DEV_GUILD_ID while developing; globally (slow to spread) otherwise."""
        if self.settings.dev_guild_id is not None:
            guild = discord.Object(id=self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d slash commands to guild %d", len(synced), guild.id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d slash commands globally", len(synced))

    async def close(self) -> None:
        if self.runtime is not None:
            rt, self.runtime = self.runtime, None
            await rt.close()
        await super().close()


def run_discord(settings: Settings, model_dir: Path) -> int:
    """Run until SIGINT/SIGTERM; return the process exit status."""
    discord.utils.setup_logging(level=logging.getLevelName(settings.log_level), root=True)
    try:
        asyncio.run(_run(ShopBot(settings, model_dir), settings.discord_token))
    except discord.LoginFailure:
        raise ConfigError("DISCORD_TOKEN: Discord rejected the token; reset it in the "
                          "Developer Portal and paste the new one (value not shown)") from None
    except discord.PrivilegedIntentsRequired:
        raise ConfigError("DISCORD_TOKEN: enable \"Message Content Intent\" for this bot in "
                          "the Developer Portal (Bot page); see README.md") from None
    return 0


async def _run(bot: ShopBot, token: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with bot:
        runner = asyncio.create_task(bot.start(token))
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if runner in done:
            stopper.cancel()
            runner.result()  # a login or setup failure: raise it
            return
        log.info("stopping: finishing answers in progress")
        await bot.close()
        await runner
