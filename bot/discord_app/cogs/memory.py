"""Memory cog: ``/memory`` and ``/forget``, answered privately (ephemeral).

Members act on themselves. The optional ``member`` argument is for moderators; whether
the caller is one is checked at run time from their permissions in the channel, because
server admins can change who sees a command but not what it does.
"""

from __future__ import annotations

import discord
from discord import app_commands
from discord.ext import commands

from bot.chat.commands import Target, forget_memory, show_memory
from bot.chat.events import Caller
from bot.chat.memory import MemberMemory
from bot.discord_app.convert import no_pings


def caller_of(interaction: discord.Interaction) -> Caller:
    permissions = interaction.permissions
    return Caller(
        user_id=interaction.user.id,
        name=interaction.user.display_name,
        guild_id=interaction.guild_id,
        is_moderator=permissions.moderate_members or permissions.manage_guild,
    )


def target_of(member: discord.User | discord.Member | None) -> Target | None:
    return None if member is None else Target(member.id, member.display_name)


class MemoryCog(commands.Cog):
    def __init__(self, memory: MemberMemory) -> None:
        self.memory = memory

    @app_commands.command(name="memory", description="See what the bot remembers about you")
    @app_commands.describe(member="Moderators only: see what it remembers about this member")
    async def memory_command(self, interaction: discord.Interaction,
                             member: discord.User | None = None) -> None:
        await self._answer(interaction, show_memory, member)

    @app_commands.command(name="forget", description="Make the bot forget what it remembers about you")
    @app_commands.describe(member="Moderators only: clear this member's memory")
    async def forget_command(self, interaction: discord.Interaction,
                             member: discord.User | None = None) -> None:
        await self._answer(interaction, forget_memory, member)

    async def _answer(self, interaction: discord.Interaction, action,
                      member: discord.User | None) -> None:
        """Run a memory action for the caller and answer privately, pinging nobody."""
        text = await action(self.memory, caller_of(interaction), target_of(member))
        await interaction.response.send_message(text, ephemeral=True, allowed_mentions=no_pings())
