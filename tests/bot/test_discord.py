"""The Discord adapter with spec'd discord.py fakes, a real database and the tiny model."""

from unittest.mock import AsyncMock, MagicMock, patch

import discord
import pytest
import pytest_asyncio
from discord.ext import commands

from bot.discord_app.app import ShopBot
from bot.discord_app.cogs.events import EventsCog
from bot.discord_app.convert import DiscordReply, to_incoming
from bot.discord_app.commands import build_commands, run_interaction
from bot.discord_app.components import Routed
from tests.bot.discord_fakes import (NOW, answer_of, fake_channel, fake_guild, fake_interaction,
                                     fake_message, fake_user, no_pings, posted)
from tests.bot.harness import Community, settings


@pytest.fixture
def me():
    return fake_user("Juniper", bot=True, cls=discord.ClientUser)


@pytest_asyncio.fixture
async def make_cog(db, local_model, me):
    made = []

    def make(**env):
        bot = MagicMock(spec_set=commands.Bot)
        bot.user = me
        community = Community(db, local_model, bot_user_id=me.id, MAX_NEW_TOKENS="24", **env)
        made.append(community)
        cog = EventsCog(bot, community.pipeline, community.features,
                        ping_author=community.settings.reply_ping)
        cog.community = community
        return cog

    yield make
    for community in made:
        await community.close()


def assert_no_pings_anywhere(channel, *, reply_ping=False):
    """Every send and every edit of what was sent pings nobody, except that the first
    message may ping the author being replied to, when configured; its edits keep that
    ping (dropping it would be an edit that takes back what REPLY_PING asked for)."""
    sends = channel.send.call_args_list
    assert sends, "nothing was sent"
    for i, (call, message) in enumerate(zip(sends, posted(channel), strict=True)):
        first = reply_ping and i == 0
        assert no_pings(call.kwargs["allowed_mentions"], replied_user=first), call
        for edit in message.edit.call_args_list:
            assert no_pings(edit.kwargs["allowed_mentions"], replied_user=first), edit


async def archived(db, message_id):
    row = await db.fetchone("SELECT content FROM messages WHERE message_id = ?", (message_id,))
    return None if row is None else row[0]


async def test_a_mention_is_answered_as_a_reply_that_pings_nobody(make_cog, me):
    cog, channel, guild = make_cog(), fake_channel(), fake_guild()
    msg = fake_message("hi @Juniper, @everyone look", author=fake_user("ana"), channel=channel,
                       guild=guild, mentions=[me])
    await cog.on_message(msg)
    assert_no_pings_anywhere(channel)
    first = channel.send.call_args_list[0]
    assert first.kwargs["reference"] is msg.to_reference.return_value
    msg.to_reference.assert_called_with(fail_if_not_exists=False)
    assert any(m.edit.call_args_list for m in posted(channel))  # it streamed by edits
    channel.typing.assert_called()


async def test_reply_ping_pings_only_the_author_being_answered(make_cog, me):
    cog, channel = make_cog(REPLY_PING="true"), fake_channel()
    msg = fake_message("hello", author=fake_user("ana"), channel=channel, guild=fake_guild(),
                       mentions=[me])
    await cog.on_message(msg)
    assert_no_pings_anywhere(channel, reply_ping=True)


async def test_follow_up_parts_of_a_long_answer_ping_nobody():
    channel = fake_channel()
    msg = fake_message("q", author=fake_user("ana"), channel=channel, guild=fake_guild())
    reply = DiscordReply(msg, ping_author=True)
    first = await reply.send("part one", reply=True)
    second = await reply.send("part two", reply=False)
    await second.edit("part two, longer")
    await first.delete()
    assert no_pings(channel.send.call_args_list[0].kwargs["allowed_mentions"], replied_user=True)
    assert no_pings(channel.send.call_args_list[1].kwargs["allowed_mentions"])
    assert "reference" not in channel.send.call_args_list[1].kwargs
    assert no_pings(posted(channel)[1].edit.call_args.kwargs["allowed_mentions"])
    posted(channel)[0].delete.assert_awaited_once()


async def test_messages_from_bots_are_archived_but_never_answered(make_cog, me, db):
    cog, channel = make_cog(), fake_channel("support")
    other_bot = fake_user("Shipper", bot=True)
    for author in (other_bot, me):
        msg = fake_message("@Juniper hello", author=author, channel=channel, guild=fake_guild(),
                           mentions=[me])
        await cog.on_message(msg)
        await cog.community.writer.flush()
        assert await archived(db, msg.id) == "@Juniper hello"
    channel.send.assert_not_called()


async def test_system_messages_are_ignored(make_cog, me, db):
    cog, channel = make_cog(), fake_channel()
    msg = fake_message("", author=fake_user("ana"), channel=channel, guild=fake_guild())
    msg.type = discord.MessageType.pins_add
    await cog.on_message(msg)
    await cog.community.writer.flush()
    assert await archived(db, msg.id) is None


async def test_edits_and_deletions_keep_the_archive_true(make_cog, db):
    cog, channel, guild = make_cog(), fake_channel(), fake_guild()
    msgs = [fake_message(f"message {i}", author=fake_user("ana"), channel=channel, guild=guild)
            for i in range(3)]
    for msg in msgs:
        await cog.on_message(msg)

    edit = MagicMock(spec_set=discord.RawMessageUpdateEvent)
    edit.message_id = msgs[0].id
    edit.message = fake_message("message 0, edited", author=msgs[0].author, channel=channel,
                                guild=guild)
    await cog.on_raw_message_edit(edit)
    assert await archived(db, msgs[0].id) == "message 0, edited"

    delete = MagicMock(spec_set=discord.RawMessageDeleteEvent)
    delete.message_id = msgs[1].id
    await cog.on_raw_message_delete(delete)
    bulk = MagicMock(spec_set=discord.RawBulkMessageDeleteEvent)
    bulk.message_ids = {msgs[0].id, msgs[2].id}
    await cog.on_raw_bulk_message_delete(bulk)
    assert [await archived(db, m.id) for m in msgs] == [None, None, None]


def test_thread_messages_map_to_their_parent_channel(me):
    parent = fake_channel("support")
    thread = fake_channel("sizing help", cls=discord.Thread, parent=parent)
    bot_answer = fake_message("an answer", author=me, channel=thread, guild=fake_guild())
    msg = fake_message("thanks!", author=fake_user("ana"), channel=thread, guild=fake_guild(),
                       reply_to=bot_answer)
    incoming = to_incoming(msg, me)
    assert (incoming.channel_id, incoming.thread_id, incoming.channel_name) == (
        parent.id, thread.id, "support")
    assert incoming.reply_to_id == bot_answer.id and incoming.reply_to_author_id == me.id
    assert not incoming.mentions_bot and not incoming.is_dm


async def test_an_edit_reaches_the_features_with_its_author(me):
    from bot.core.pipeline import Pipeline

    seen = []

    async def never(msg):
        return False

    async def on_edit(edit):
        seen.append(edit)

    pipeline = Pipeline(never)
    pipeline.add("probe", [], on_edit, None, [])
    bot = MagicMock(spec_set=commands.Bot)
    bot.user = me
    cog = EventsCog(bot, pipeline, None, ping_author=False)
    ana, channel, guild = fake_user("ana"), fake_channel(), fake_guild()
    payload = MagicMock(spec_set=discord.RawMessageUpdateEvent)
    payload.message_id = 5
    payload.message = fake_message("now rude", author=ana, channel=channel, guild=guild)
    await cog.on_raw_message_edit(payload)  # a link preview loading: not an edit to judge
    payload.message.edited_at = NOW
    await cog.on_raw_message_edit(payload)
    preview, edit = seen
    assert preview.message is None
    assert edit.content == "now rude" and edit.message.author_id == ana.id
    assert edit.message.guild_id == guild.id and edit.message.raw_content == "now rude"


def test_what_automod_needs_about_the_author_comes_with_the_message(me):
    channel = fake_channel("general")
    ana = fake_user("ana")
    ana.roles = [MagicMock(spec_set=discord.Role, id=77)]
    channel.permissions_for.return_value = discord.Permissions(moderate_members=True)
    msg = fake_message("look", author=ana, channel=channel, guild=fake_guild())
    msg.attachments = [MagicMock(spec_set=discord.Attachment, filename="fit.png")]
    incoming = to_incoming(msg, me)
    assert incoming.author_roles == {77} and "moderate_members" in incoming.author_permissions
    assert incoming.attachments == ("fit.png",)
    assert incoming.author_created_at == int(ana.created_at.timestamp() * 1000)
    channel.permissions_for.assert_called_with(ana)


def app_commands_of(community):
    return {c.name: c for c in build_commands(community.features, run_interaction)}


async def test_memory_commands_answer_privately_without_pings(make_cog, me):
    chat_cog, channel, guild = make_cog(), fake_channel(), fake_guild()
    ana = fake_user("ana")
    await chat_cog.on_message(fake_message("@Juniper I'm a size M", author=ana, channel=channel,
                                           guild=guild, mentions=[me]))
    tree = app_commands_of(chat_cog.community)

    mine = fake_interaction(ana, guild.id)
    await tree["memory"].callback(mine)
    mine.response.defer.assert_awaited_once_with(ephemeral=True, thinking=True)
    text, private = answer_of(mine)
    assert "- size M" in text and private

    nosy = fake_interaction(fake_user("bob"), guild.id)
    await tree["forget"].callback(nosy, member=ana)
    assert answer_of(nosy) == ("Only moderators can look at or clear another member's memory.", True)

    mod = fake_interaction(fake_user("mo"), guild.id,
                           permissions=discord.Permissions(moderate_members=True))
    await tree["forget"].callback(mod, member=ana)
    assert answer_of(mod) == ("Done: I forgot 1 thing I remembered about ana.", True)


async def test_setup_hook_starts_everything_and_syncs_to_the_dev_guild(tmp_path, tiny_model_dir, me):
    conf = settings(DATABASE_PATH=str(tmp_path / "bot.db"), DEV_GUILD_ID="4242")
    bot = ShopBot(conf, tiny_model_dir)
    assert bot.intents.message_content and bot.help_command is None
    bot._connection.user = me  # what logging in sets
    with patch.object(bot.tree, "sync", AsyncMock(return_value=[])) as sync:
        await bot.setup_hook()
    assert sync.await_args.kwargs["guild"].id == 4242
    names = {c.qualified_name for c in bot.tree.walk_commands(guild=discord.Object(id=4242))}
    assert {"memory", "forget", "settings show", "mod modlog channel"} <= names
    assert isinstance(bot.get_cog("EventsCog"), EventsCog)
    assert Routed in bot._connection._view_store._dynamic_items.values()  # persistent buttons
    runtime = bot.runtime
    await bot.close()
    assert bot.runtime is None
    with pytest.raises(ValueError, match="Connection closed"):  # the database is closed
        await runtime.db.fetchone("SELECT 1")
