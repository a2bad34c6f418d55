"""The Discord side of the member-actions port, against spec'd discord.py fakes."""

from datetime import timedelta
from unittest.mock import AsyncMock, MagicMock

import discord
import pytest

from bot.core.members import ActionFailed, Standing
from bot.discord_app.members import DiscordMembers
from tests.bot.discord_fakes import fake_guild, fake_user


def client_with(guild):
    client = MagicMock(spec_set=discord.Client)
    client.get_guild.return_value = guild
    return client


def member_in(guild, name, position, *, bot=False):
    member = fake_user(name, bot=bot)
    member.top_role = MagicMock(spec_set=discord.Role)
    member.top_role.position = position
    member.timeout = AsyncMock()
    guild.get_member.side_effect = lambda uid: {member.id: member}.get(uid)
    return member


async def test_standing_and_timeout_go_through_the_member_with_the_reason():
    guild = fake_guild()
    ana = member_in(guild, "ana", 4)
    guild.owner_id = 999
    actions = DiscordMembers(client_with(guild))
    assert await actions.standing(guild.id, ana.id) == Standing(ana.id, 4, owner=False, bot=False)
    await actions.timeout(guild.id, ana.id, 600, "cool off")
    ana.timeout.assert_awaited_once_with(timedelta(seconds=600), reason="cool off")
    await actions.timeout(guild.id, ana.id, None, "all good")
    ana.timeout.assert_awaited_with(None, reason="all good")


async def test_a_ban_passes_the_days_and_a_discord_refusal_becomes_action_failed():
    guild = fake_guild()
    guild.ban = AsyncMock()
    actions = DiscordMembers(client_with(guild))
    await actions.ban(guild.id, 42, 2, "scam links")
    (target,), kwargs = guild.ban.await_args
    assert target.id == 42 and kwargs == {"reason": "scam links", "delete_message_seconds": 172_800}
    response = MagicMock(status=403, reason="Forbidden")
    guild.kick = AsyncMock(side_effect=discord.Forbidden(response, "Missing Permissions"))
    with pytest.raises(ActionFailed, match="Discord refused: Missing Permissions"):
        await actions.kick(guild.id, 42, "x")


async def test_the_bots_permissions_are_read_from_its_member():
    guild = fake_guild()
    guild.me = MagicMock(spec_set=discord.Member)
    guild.me.guild_permissions = discord.Permissions(moderate_members=True, kick_members=True)
    perms = await DiscordMembers(client_with(guild)).bot_permissions(guild.id)
    assert {"moderate_members", "kick_members"} <= perms and "ban_members" not in perms


async def test_purge_looks_through_the_newest_messages_and_keeps_only_the_members():
    guild = fake_guild()
    channel = MagicMock(spec_set=discord.TextChannel)
    guild.get_channel_or_thread.return_value = channel
    ana, bo = fake_user("ana"), fake_user("bo")
    history = [MagicMock(spec_set=discord.Message, id=i, author=a)
               for i, a in enumerate((ana, bo, ana), 1)]

    async def purge(*, limit, check, reason):
        return [m for m in history[:limit] if check(m)]

    channel.purge = AsyncMock(side_effect=purge)
    actions = DiscordMembers(client_with(guild))
    assert await actions.purge(guild.id, 55, 3, ana.id, "spam") == [1, 3]
    assert channel.purge.await_args.kwargs["reason"] == "spam"
    assert await actions.purge(guild.id, 55, 2, None, "clean") == [1, 2]
    guild.get_channel_or_thread.return_value = MagicMock(spec_set=discord.CategoryChannel)
    with pytest.raises(ActionFailed, match="text channel or thread"):
        await actions.purge(guild.id, 56, 2, None, "x")
