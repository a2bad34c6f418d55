"""The guild key that storage uses for direct messages.

Every table keys its rows by guild, and a direct message has no guild. Storage files all of
them under one key, ``DM_GUILD = 0``, rather than NULL:

* No Discord guild id is 0 (a snowflake's high bits are its creation time after 2015), so
  the key cannot collide with a real community and DM data never reaches a guild's prompts
  or exports.
* ``members (guild_id, user_id)`` is a NOT NULL primary key and ``member_facts`` references
  it, so those tables cannot use NULL; one key everywhere means the same member's DMs, facts
  and member row join with ``=`` instead of ``IS``, and nothing has to translate between them.

Adapters see ``guild_id`` None for a DM (that is what Discord reports); ``guild_key`` is the
one place that turns it into the storage key.
"""

from __future__ import annotations

DM_GUILD = 0


def guild_key(guild_id: int | None) -> int:
    """The storage key for a guild id as Discord reports it: ``DM_GUILD`` for None."""
    return DM_GUILD if guild_id is None else guild_id
