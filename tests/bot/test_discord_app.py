"""Discord adapter behaviour a member or operator would see (from review findings)."""

import asyncio
import logging
import threading
from unittest.mock import AsyncMock, MagicMock, patch

import discord
import pytest

from bot.core.messages import MessageGone
from bot.discord_app import app as discord_app
from bot.discord_app.app import ShopBot
from bot.discord_app.commands import on_tree_error
from bot.discord_app.convert import DiscordReply, DiscordSent, to_incoming
from tests.bot.discord_fakes import (fake_channel, fake_guild, fake_interaction, fake_message,
                                     fake_user)
from tests.bot.harness import settings


@pytest.fixture
def me():
    return fake_user("Juniper", bot=True, cls=discord.ClientUser)


def http_error(cls, status, text):
    response = MagicMock()
    response.status = status
    response.reason = text
    return cls(response, {"message": text, "code": 50001})


async def test_there_is_no_help_command_and_no_prefix_dispatch(tmp_path, me):
    bot = ShopBot(settings(DATABASE_PATH=str(tmp_path / "bot.db")), tmp_path)
    assert bot.help_command is None and bot.get_command("help") is None
    msg = fake_message("@Juniper help me find a dress", author=fake_user("ana"),
                       channel=fake_channel(), guild=fake_guild(), mentions=[me])
    with patch.object(bot, "process_commands", AsyncMock()) as process:
        await bot.on_message(msg)
    process.assert_not_awaited()


def test_a_mention_of_the_bots_managed_role_counts_as_a_mention(me):
    role = MagicMock(spec_set=discord.Role)
    role.tags = MagicMock(spec_set=discord.RoleTags)
    role.tags.bot_id = me.id
    other = MagicMock(spec_set=discord.Role)
    other.tags = None
    msg = fake_message("@Juniper where is my order?", author=fake_user("ana"),
                       channel=fake_channel(), guild=fake_guild())
    msg.role_mentions = [other]
    assert not to_incoming(msg, me).mentions_bot
    msg.role_mentions = [other, role]
    assert to_incoming(msg, me).mentions_bot


async def test_edits_keep_the_mentions_sent_with_and_a_deleted_answer_is_withdrawn():
    message = MagicMock(spec_set=discord.Message)
    message.id = 5
    mentions = discord.AllowedMentions(everyone=False, users=False, roles=False, replied_user=True)
    sent = DiscordSent(message, mentions)
    await sent.edit("longer")
    assert message.edit.await_args.kwargs["allowed_mentions"] is mentions
    message.edit.side_effect = http_error(discord.NotFound, 404, "Unknown Message")
    with pytest.raises(MessageGone):
        await sent.edit("longer still")
    message.delete.side_effect = http_error(discord.NotFound, 404, "Unknown Message")
    await sent.delete()  # already gone is fine


def test_without_send_permission_the_channel_is_skipped_with_one_warning(caplog):
    channel = fake_channel("announcements")
    channel.permissions_for.return_value = discord.Permissions(view_channel=True)
    msg = fake_message("hi", author=fake_user("ana"), channel=channel, guild=fake_guild())
    with caplog.at_level(logging.WARNING):
        assert not DiscordReply(msg, ping_author=False).can_send()
        assert not DiscordReply(msg, ping_author=False).can_send()
    warnings = [r for r in caplog.records if "no permission to send" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].exc_info is None


async def test_a_failed_sync_is_one_line_saying_what_to_fix(tmp_path, caplog):
    bot = ShopBot(settings(DATABASE_PATH=str(tmp_path / "bot.db"), DEV_GUILD_ID="4242"), tmp_path)
    forbidden = http_error(discord.Forbidden, 403, "Missing Access")
    with patch.object(bot.tree, "sync", AsyncMock(side_effect=forbidden)):
        await bot.sync_commands()
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "DEV_GUILD_ID 4242" in record.getMessage() and "applications.commands" in record.getMessage()
    assert record.exc_info is None


async def test_a_failing_slash_command_gets_a_short_private_note():
    interaction = fake_interaction(fake_user("ana"), 5)
    await on_tree_error(interaction, discord.app_commands.AppCommandError("boom"))
    call = interaction.response.send_message.await_args
    assert call.kwargs["ephemeral"] is True and call.args[0].startswith("Sorry")
    interaction.response.is_done.return_value = True
    await on_tree_error(interaction, discord.app_commands.AppCommandError("boom"))
    assert interaction.followup.send.await_args.kwargs["ephemeral"] is True


async def test_stopping_while_setup_hook_loads_the_model_closes_what_it_opened(tmp_path, me):
    """Ctrl-C during start-up: setup_hook is cancelled mid-load; the load (a thread) is
    waited for and its model closed, and the database is closed."""
    started, release = threading.Event(), threading.Event()
    model = MagicMock()
    model.close = AsyncMock()

    def slow_load(model_dir, template=None):
        started.set()
        release.wait(30)
        return model

    bot = ShopBot(settings(DATABASE_PATH=str(tmp_path / "bot.db")), tmp_path)
    bot._connection.user = me
    opened = []
    real_open = discord_app.runtime.open_database

    async def open_database(conf):
        opened.append(await real_open(conf))
        return opened[-1]

    with patch.object(discord_app.runtime.LocalModel, "load", side_effect=slow_load), \
            patch.object(discord_app.runtime, "open_database", open_database):
        task = asyncio.create_task(bot.setup_hook())
        await asyncio.to_thread(started.wait, 30)
        task.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
    model.close.assert_awaited_once()
    assert bot.runtime is None
    with pytest.raises(ValueError, match="Connection closed"):
        await opened[0].fetchone("SELECT 1")


def test_the_token_is_checked_before_the_model_is_prepared(tmp_path, monkeypatch, capsys):
    from bot.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISCORD_TOKEN", "aaaa.bbbb.cccc")
    prepared = []
    monkeypatch.setattr("bot.firstrun.resolve_model_dir", lambda *a, **k: prepared.append(a))

    def rejected(token):
        raise discord_app.ConfigError(discord_app.TOKEN_REJECTED)

    monkeypatch.setattr(discord_app, "check_token", rejected)
    assert main(["discord"]) == 2
    assert capsys.readouterr().err.strip() == f"error: {discord_app.TOKEN_REJECTED}"
    assert prepared == []


def test_a_command_in_a_thread_acts_on_its_parent_channel():
    from bot.discord_app.commands import caller_of
    from tests.bot.discord_fakes import fake_interaction

    parent = fake_channel("support")
    thread = fake_channel("sizing", cls=discord.Thread, parent=parent)
    interaction = fake_interaction(fake_user("mo"), 5,
                                   permissions=discord.Permissions(read_messages=True))
    interaction.channel = thread
    interaction.channel_id = thread.id
    caller = caller_of(interaction)
    assert caller.channel_id == parent.id and caller.where == thread.id  # purge acts on the thread
    assert {"view_channel", "read_messages"} <= caller.permissions  # aliases count too
