"""The Discord bot: a ``commands.Bot`` whose ``setup_hook`` starts the shared runtime.

Slash commands only: there is no help command and no prefix dispatch, so "@bot help me"
is a question for the model, not a ``CommandNotFound``. The commands come from the
features' declarations (``commands.py``); buttons and selects route through one dynamic
item registered here, so they keep working after a restart.

Start-up order: the token is checked before a first run trains a model (``check_token``);
``setup_hook`` opens the database before loading the model, so a broken database is
reported in seconds. A Ctrl-C or SIGTERM during start-up cancels ``setup_hook``, which
closes what it had opened.

Shutdown order matters: answers in progress still need the HTTP session to post their
last edits, so the runtime closes first (answers finish, jobs stop, the model drains, the
archive flushes, the database closes) and only then does discord.py close its connections.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import aiohttp
import discord
from discord.ext import commands

from bot import runtime
from bot.config import ConfigError, Settings
from bot.core.dispatch import press
from bot.core.replies import split_custom_id
from bot.discord_app.cogs.events import EventsCog
from bot.discord_app.commands import (build_commands, caller_of, context_menu, on_tree_error,
                                      run_interaction)
from bot.discord_app.components import Routed
from bot.discord_app.members import DiscordMembers
from bot.discord_app.poster import DiscordPoster
from bot.discord_app.render import FormModal, edit_kwargs, no_pings, send_kwargs

log = logging.getLogger(__name__)

TOKEN_REJECTED = ("DISCORD_TOKEN: Discord rejected the token; reset it in the Developer "
                  "Portal and paste the new one (value not shown)")


def make_intents() -> discord.Intents:
    intents = discord.Intents.default()
    # Privileged: enable "Message Content Intent" for the bot in the Developer Portal.
    intents.message_content = True
    return intents


class ShopBot(commands.Bot):
    def __init__(self, settings: Settings, model_dir: Path) -> None:
        super().__init__(
            command_prefix=(),  # no prefix commands; ``on_message`` below never dispatches any
            help_command=None,
            intents=make_intents(),
            allowed_mentions=no_pings(),  # a default for any send that forgets to pass one
        )
        self.settings = settings
        self.model_dir = model_dir
        self.runtime: runtime.Runtime | None = None

    async def on_message(self, message: discord.Message) -> None:
        """Replaces ``commands.Bot``'s prefix dispatch; the events cog handles messages."""

    async def setup_hook(self) -> None:
        self.add_dynamic_items(Routed)
        db = await runtime.open_database(self.settings)
        try:
            model = await runtime.load_model(self.model_dir, self.settings.model_template)
        except BaseException:
            await db.close()
            raise
        try:
            rt = await runtime.start(self.settings, db, model, DiscordPoster(self),
                                     bot_user_id=self.user.id, bot_name=self.user.display_name,
                                     members=DiscordMembers(self))
        except BaseException:
            await model.close()
            await db.close()
            raise
        try:
            await self.add_cog(EventsCog(self, rt.pipeline, rt.features,
                                         ping_author=self.settings.reply_ping))
            for command in build_commands(rt.features, run_interaction):
                self.tree.add_command(command)
            for message_command in rt.features.message_commands.values():
                self.tree.add_command(context_menu(message_command))
            self.tree.on_error = on_tree_error
            await self.sync_commands()
        except BaseException:
            await rt.close()
            raise
        self.runtime = rt  # from here on, close() shuts it down

    async def sync_commands(self) -> None:
        """Instantly to DEV_GUILD_ID while developing; globally (slow to spread) otherwise.
        A failure is one line saying what to fix: the bot still answers messages."""
        guild_id = self.settings.dev_guild_id
        try:
            if guild_id is not None:
                guild = discord.Object(id=guild_id)
                self.tree.copy_global_to(guild=guild)
                synced = await self.tree.sync(guild=guild)
                log.info("synced %d slash commands to guild %d", len(synced), guild_id)
            else:
                synced = await self.tree.sync()
                log.info("synced %d slash commands globally", len(synced))
        except discord.Forbidden:
            where = f"DEV_GUILD_ID {guild_id}" if guild_id is not None else "Discord"
            log.error("slash commands were not synced to %s: the bot is not in that server or "
                      "was invited without the applications.commands scope; fix DEV_GUILD_ID or "
                      "re-invite the bot (README: Connect to Discord)", where)
        except discord.HTTPException as exc:
            log.error("slash commands were not synced: %s (%s)", exc.text or exc.status,
                      "check DEV_GUILD_ID" if guild_id is not None else "try again later")

    async def on_component(self, interaction: discord.Interaction, custom_id: str,
                           values: tuple[str, ...]) -> None:
        """A press of one of our buttons or selects (``components.Routed``).

        Acknowledged first (a deferred update: nothing shows yet), so a handler that reads
        the database cannot miss Discord's 3-second window; the answer then edits the
        message carrying the button, or follows up. A route that opens forms is answered
        directly instead, since Discord shows a modal only as the first answer.
        """
        if self.runtime is None:
            await interaction.response.send_message(
                content="I'm restarting; please press that again in a minute.", ephemeral=True,
                allowed_mentions=no_pings())
            return
        parts = split_custom_id(custom_id)
        route = self.runtime.features.route(parts[0]) if parts else None
        direct = route is not None and route.opens_forms
        if not direct:
            await interaction.response.defer()
        message_id = interaction.message.id if interaction.message is not None else None
        reply = await press(self.runtime.features, caller_of(interaction), custom_id, values,
                            message_id)
        await self._answer(interaction, reply, deferred=not direct, what=custom_id)

    async def on_form(self, interaction: discord.Interaction, custom_id: str,
                      form: dict[str, str]) -> None:
        """A submitted form (``render.FormModal``): to its route, like a press."""
        if self.runtime is None:
            await interaction.response.send_message(
                content="I'm restarting; please try again in a minute.", ephemeral=True,
                allowed_mentions=no_pings())
            return
        await interaction.response.defer()
        message_id = interaction.message.id if interaction.message is not None else None
        reply = await press(self.runtime.features, caller_of(interaction), custom_id, (),
                            message_id, form)
        await self._answer(interaction, reply, deferred=True, what=custom_id)

    async def _answer(self, interaction: discord.Interaction, reply, *, deferred: bool,
                      what: str) -> None:
        try:
            if reply.form is not None and not deferred:
                await interaction.response.send_modal(FormModal(reply.form, self.on_form))
            elif reply.replace:
                if deferred:
                    await interaction.edit_original_response(**edit_kwargs(reply))
                else:
                    await interaction.response.edit_message(**edit_kwargs(reply))
            elif deferred:
                await interaction.followup.send(ephemeral=bool(reply.private), **send_kwargs(reply))
            else:
                await interaction.response.send_message(ephemeral=bool(reply.private),
                                                        **send_kwargs(reply))
        except discord.HTTPException as exc:
            log.warning("could not answer %s: %s", what, exc.text or exc.status)

    async def close(self) -> None:
        if self.runtime is not None:
            rt, self.runtime = self.runtime, None
            await rt.close()
        await super().close()


def check_token(token: str) -> None:
    """Log in once and out again, so a bad token is reported before a long first run."""

    async def login() -> None:
        async with discord.Client(intents=discord.Intents.none()) as client:
            await client.login(token)

    try:
        asyncio.run(login())
    except discord.LoginFailure:
        raise ConfigError(TOKEN_REJECTED) from None
    except (discord.HTTPException, aiohttp.ClientError, OSError) as exc:
        raise ConfigError(f"DISCORD_TOKEN: cannot reach Discord to check it ({exc})") from None


def run_discord(settings: Settings, model_dir: Path) -> int:
    """Run until SIGINT/SIGTERM; return the process exit status."""
    discord.utils.setup_logging(level=logging.getLevelName(settings.log_level), root=True)
    try:
        asyncio.run(_run(ShopBot(settings, model_dir), settings.discord_token))
    except discord.LoginFailure:
        raise ConfigError(TOKEN_REJECTED) from None
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
        if bot.runtime is None:
            log.info("stopping during start-up")
            runner.cancel()  # setup_hook closes what it opened
            await asyncio.gather(runner, return_exceptions=True)
            return
        log.info("stopping: finishing answers in progress")
        await bot.close()
        await runner
