"""Persistent buttons and select menus: one ``DynamicItem`` that routes every press.

Registered once with ``bot.add_dynamic_items`` in ``setup_hook``. discord.py then matches
the custom id of any component interaction against the template, on any message, also one
sent before a restart, and builds the item from the id alone. The press goes to
``bot.on_component``, which finds the feature's route (``bot.core.dispatch.press``).
"""

from __future__ import annotations

import discord

from bot.core.replies import CUSTOM_ID

TEMPLATE = CUSTOM_ID.pattern.removeprefix("^").removesuffix("$")


class Routed(discord.ui.DynamicItem[discord.ui.Item], template=TEMPLATE):
    """A button or a select whose custom id is ``route:data``."""

    @classmethod
    async def from_custom_id(cls, interaction: discord.Interaction, item: discord.ui.Item,
                             match, /) -> Routed:
        return cls(item)

    async def callback(self, interaction: discord.Interaction) -> None:
        values = tuple(getattr(self.item, "values", ()))
        await interaction.client.on_component(interaction, self.custom_id, values)
