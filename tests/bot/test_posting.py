"""The posting port in both adapters: posts to any channel or a DM, history, events."""

import io
from datetime import datetime, timedelta, timezone
from unittest.mock import MagicMock

import discord
import pytest

from bot.console import CHANNELS, GUILD_ID, Console, member_id
from bot.core.posting import ChannelTarget, DirectTarget, PostingError, ScheduledEvent
from bot.core.replies import Reply
from bot.discord_app.poster import DiscordPoster
from tests.bot.discord_fakes import NOW, fake_channel, no_pings
from tests.bot.test_discord_app import http_error

MODLOG = ChannelTarget(GUILD_ID, CHANNELS["mod-log"])


async def test_the_console_prints_posts_keeps_history_and_refuses_unknown_channels(tmp_path):
    out = io.StringIO()
    console = Console(mods=frozenset({"mo"}), out=out, files_dir=tmp_path)
    poster = console.poster
    first = await poster.send(MODLOG, Reply("Case 1: ana warned (spam)"))
    await poster.send(DirectTarget(member_id("mo")), Reply("You were warned: spam @everyone"))
    second = await poster.send(MODLOG, Reply("Case 2"))
    assert [p.message_id for p in await poster.history(MODLOG)] == [second.message_id, first.message_id]
    await poster.delete(MODLOG, first.message_id)
    assert [p.message_id for p in await poster.history(MODLOG)] == [second.message_id]
    start = datetime(2030, 1, 1, 18, tzinfo=timezone.utc)
    await poster.create_event(ScheduledEvent(GUILD_ID, "Launch party", start,
                                             start + timedelta(hours=1), location="Online"))
    lines = out.getvalue().splitlines()
    assert lines[0] == "[bot → #mod-log] Case 1: ana warned (spam)"
    assert lines[1] == "[bot → mo (DM)] You were warned: spam @\u200beveryone"
    assert lines[-1] == "[bot → events] Launch party at 2030-01-01T18:00+00:00"
    with pytest.raises(PostingError, match="no channel 999"):
        await poster.send(ChannelTarget(GUILD_ID, 999), Reply("x"))


def test_events_are_checked():
    start = datetime(2030, 1, 1, tzinfo=timezone.utc)
    with pytest.raises(ValueError, match="channel_id or a location"):
        ScheduledEvent(1, "x", start)
    with pytest.raises(ValueError, match="needs an end"):
        ScheduledEvent(1, "x", start, location="Online")
    with pytest.raises(ValueError, match="end after it starts"):
        ScheduledEvent(1, "x", start, start, location="Online")


def discord_client(channel):
    client = MagicMock(spec_set=discord.Client)
    client.get_channel.return_value = channel
    return client


async def test_discord_posts_ping_nobody_and_failures_are_one_line():
    channel = fake_channel("mod-log")
    channel.guild = MagicMock(spec_set=discord.Guild)
    channel.guild.id = 5
    poster = DiscordPoster(discord_client(channel))
    sent = MagicMock(spec_set=discord.Message)
    sent.id, sent.channel, sent.content, sent.created_at = 77, channel, "Case 1", NOW
    sent.author = MagicMock(spec_set=discord.User)
    sent.author.id = 1
    channel.send.side_effect = None
    channel.send.return_value = sent
    posted = await poster.send(ChannelTarget(5, channel.id), Reply("Case 1"))
    assert posted.message_id == 77
    assert no_pings(channel.send.await_args.kwargs["allowed_mentions"])
    with pytest.raises(PostingError, match="not in guild 6"):
        await poster.send(ChannelTarget(6, channel.id), Reply("x"))
    channel.send.side_effect = http_error(discord.Forbidden, 403, "Missing Permissions")
    with pytest.raises(PostingError, match="may not post there"):
        await poster.send(ChannelTarget(5, channel.id), Reply("x"))


async def test_discord_history_reads_the_channel_newest_first():
    channel = fake_channel("announcements")
    channel.guild = MagicMock(spec_set=discord.Guild)
    channel.guild.id = 5
    messages = []
    for i in (3, 2):
        m = MagicMock(spec_set=discord.Message)
        m.id, m.channel, m.content, m.created_at = i, channel, f"post {i}", NOW
        m.author = MagicMock(spec_set=discord.User)
        m.author.id = 1
        messages.append(m)

    async def history(limit):
        for m in messages[:limit]:
            yield m

    channel.history = history
    poster = DiscordPoster(discord_client(channel))
    got = await poster.history(ChannelTarget(5, channel.id), limit=5)
    assert [(p.message_id, p.content) for p in got] == [(3, "post 3"), (2, "post 2")]
