"""Member actions over discord.py: Discord's half of ``bot.core.members``.

Every call names the member by id and passes the case's reason to Discord, so the guild's
own audit log shows it too. A ``discord.HTTPException`` (a permission Discord refused, a
member who left) becomes ``ActionFailed`` with Discord's own text.
"""

from __future__ import annotations

from datetime import timedelta

import discord

from bot.core.members import ActionFailed, Standing


class DiscordMembers:
    def __init__(self, client: discord.Client) -> None:
        self._client = client

    def _guild(self, guild_id: int) -> discord.Guild:
        guild = self._client.get_guild(guild_id)
        if guild is None:
            raise ActionFailed("the bot is not in that server")
        return guild

    async def _member(self, guild: discord.Guild, user_id: int) -> discord.Member | None:
        member = guild.get_member(user_id)
        if member is None:
            try:
                member = await guild.fetch_member(user_id)
            except discord.NotFound:
                return None
            except discord.HTTPException as exc:
                raise ActionFailed(f"Discord refused to look the member up: {exc.text}") from None
        return member

    async def standing(self, guild_id: int, user_id: int) -> Standing | None:
        guild = self._guild(guild_id)
        member = await self._member(guild, user_id)
        if member is None:
            return None
        return Standing(user_id, member.top_role.position, owner=guild.owner_id == user_id,
                        bot=member.bot)

    async def bot_permissions(self, guild_id: int) -> frozenset[str]:
        me = self._guild(guild_id).me
        return frozenset(name for name, allowed in me.guild_permissions if allowed)

    async def _do(self, action, *args, **kwargs) -> None:
        try:
            await action(*args, **kwargs)
        except discord.HTTPException as exc:
            raise ActionFailed(f"Discord refused: {exc.text or exc.status}") from None

    async def timeout(self, guild_id: int, user_id: int, seconds: int | None, reason: str) -> None:
        member = await self._member(self._guild(guild_id), user_id)
        if member is None:
            raise ActionFailed("that member is not in the server")
        await self._do(member.timeout, None if seconds is None else timedelta(seconds=seconds),
                       reason=reason)

    async def kick(self, guild_id: int, user_id: int, reason: str) -> None:
        await self._do(self._guild(guild_id).kick, discord.Object(user_id), reason=reason)

    async def ban(self, guild_id: int, user_id: int, delete_days: int, reason: str) -> None:
        await self._do(self._guild(guild_id).ban, discord.Object(user_id), reason=reason,
                       delete_message_seconds=delete_days * 86_400)

    async def unban(self, guild_id: int, user_id: int, reason: str) -> None:
        await self._do(self._guild(guild_id).unban, discord.Object(user_id), reason=reason)

    async def purge(self, guild_id: int, channel_id: int, limit: int, user_id: int | None,
                    reason: str) -> list[int]:
        channel = self._guild(guild_id).get_channel_or_thread(channel_id)
        if not isinstance(channel, (discord.TextChannel, discord.Thread, discord.VoiceChannel)):
            raise ActionFailed("messages can be purged in a text channel or thread")
        try:
            deleted = await channel.purge(limit=limit, reason=reason, check=lambda m: (
                user_id is None or m.author.id == user_id))
        except discord.Forbidden:
            raise ActionFailed("I need Manage Messages and Read Message History there") from None
        except discord.HTTPException as exc:
            raise ActionFailed(f"Discord refused: {exc.text or exc.status}") from None
        return [m.id for m in deleted]
