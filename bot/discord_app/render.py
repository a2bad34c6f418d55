"""A ``Reply`` as discord.py send arguments: content, embeds, files, a view, mentions.

Every send and edit gets an explicit ``AllowedMentions``: nobody is pinged, except the one
role a moderator explicitly chose (``Reply.ping_role``). Text is cut to Discord's limits
here too (embed title 256, description 4,096, field name 256 and value 1,024), because a
too-long value would fail the whole send.
"""

from __future__ import annotations

import io
from typing import Any

import discord

from bot.core.replies import Button, Form, Reply, Select
from bot.discord_app.components import Routed

STYLES = {
    "primary": discord.ButtonStyle.primary,
    "secondary": discord.ButtonStyle.secondary,
    "success": discord.ButtonStyle.success,
    "danger": discord.ButtonStyle.danger,
}


def no_pings() -> discord.AllowedMentions:
    return discord.AllowedMentions.none()


def mentions_for(reply: Reply) -> discord.AllowedMentions:
    if reply.ping_role is None:
        return no_pings()
    return discord.AllowedMentions(everyone=False, users=False, replied_user=False,
                                   roles=[discord.Object(id=reply.ping_role)])


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def embed(e) -> discord.Embed:
    out = discord.Embed(title=_cut(e.title, 256) or None,
                        description=_cut(e.description, 4096) or None,
                        colour=e.colour)
    for f in e.fields:
        out.add_field(name=_cut(f.name, 256) or "\u200b", value=_cut(f.value, 1024) or "\u200b",
                      inline=f.inline)
    if e.footer:
        out.set_footer(text=_cut(e.footer, 2048))
    return out


def view(reply: Reply) -> discord.ui.View | None:
    """A persistent view (no timeout): every item is a dynamic item the bot registered in
    ``setup_hook``, so a press after a restart still reaches its handler."""
    if not reply.components:
        return None
    out = discord.ui.View(timeout=None)
    for component in reply.components:
        if isinstance(component, Button):
            out.add_item(Routed(discord.ui.Button(
                label=component.label, custom_id=component.custom_id,
                style=STYLES[component.style], disabled=component.disabled)))
        elif isinstance(component, Select):
            out.add_item(Routed(discord.ui.Select(
                custom_id=component.custom_id, placeholder=component.placeholder or None,
                min_values=component.min_values, max_values=component.max_values,
                options=[discord.SelectOption(label=o.label, value=o.value,
                                              description=o.description or None)
                         for o in component.options])))
    return out


def files(reply: Reply) -> list[discord.File]:
    return [discord.File(io.BytesIO(f.data), filename=f.name, description=f.description or None)
            for f in reply.files]


def _body(reply: Reply) -> dict[str, Any]:
    return {"content": reply.text or None, "embeds": [embed(e) for e in reply.embeds],
            "allowed_mentions": mentions_for(reply)}


def send_kwargs(reply: Reply) -> dict[str, Any]:
    """Arguments for ``Messageable.send`` / ``followup.send`` (no ``view`` without one:
    ``view=None`` is not accepted there)."""
    kwargs = _body(reply) | {"files": files(reply)}
    rendered = view(reply)
    if rendered is not None:
        kwargs["view"] = rendered
    return kwargs


def edit_kwargs(reply: Reply) -> dict[str, Any]:
    """Arguments for ``Message.edit`` / ``edit_message``: replaces text, embeds and view
    (``view=None`` removes the old buttons)."""
    kwargs = _body(reply) | {"view": view(reply)}
    if reply.files:
        kwargs["attachments"] = files(reply)
    return kwargs


class FormModal(discord.ui.Modal):
    """A ``Form`` as a discord.py modal; a submit goes to ``submit(interaction, custom_id,
    {field: value})``. Modals live in discord.py's memory only: one opened before a restart
    and submitted after it fails on Discord's side, and pressing the button again opens a
    new one."""

    def __init__(self, form: Form, submit) -> None:
        super().__init__(title=_cut(form.title, 45), custom_id=form.custom_id, timeout=900)
        self._submit = submit
        self._inputs = {}
        for f in form.fields:
            box = discord.ui.TextInput(
                label=f.label, default=f.value[: f.max_length] or None, max_length=f.max_length,
                style=discord.TextStyle.paragraph if f.long else discord.TextStyle.short)
            self._inputs[f.name] = box
            self.add_item(box)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self._submit(interaction, self.custom_id,
                           {name: box.value for name, box in self._inputs.items()})
