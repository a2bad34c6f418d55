"""Privacy: what members can see and erase, what a guild keeps and for how long.

Members: ``/privacy statement`` (what is kept, why, where, for how long), ``/privacy
export`` (a JSON file of everything stored about them, from every feature's member-data
hooks), ``/privacy delete`` (all of it, after a confirming button; ``confirm:yes`` skips
the question), ``/privacy facts`` and ``/privacy forget`` (the facts the bot remembers),
``/privacy opt-out`` (nothing more is stored, and what is stored goes) and ``/privacy
opt-in``. Moderators: ``/mod purge-member`` for someone who left. Server managers:
``/settings privacy`` for archiving and training consent (``bot.privacy.consent``) and
the retention period, which a daily job enforces on the archive.

The first time a member's message is stored in a guild, the bot tells them once, by DM.

Moderation cases are the one thing a deletion keeps: as safety records, with their
evidence (the message text and file names) removed; the member is told so.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time

from bot.chat.memory import MemberMemory
from bot.core.commands import (MANAGE_SERVER, MODERATORS, Command, Invocation, Option, OptionKind)
from bot.core.feature import DataHooks, Feature, Features, Services
from bot.core.jobs import Job
from bot.core.pipeline import MessageEvent, MessageHook, Stage
from bot.core.posting import DirectTarget
from bot.core.replies import Button, ComponentRoute, File, Press, Reply, custom_id
from bot.core.text import sanitize
from bot.privacy.consent import MODES, Consent
from bot.privacy.statement import STATEMENT
from bot.store import ArchiveWriter, Database, guild_key

log = logging.getLogger(__name__)

ROUTE = "privacy"
RETENTION_CHECK_S = 86_400.0
RETENTION_BATCH = 5_000
MAX_RETENTION_DAYS = 3650
KEPT = ("Moderation cases about you are kept as safety records, with the message text and "
        "file names removed.")
FIRST_NOTE = ("Hi! I keep the messages you write in the server of <#{channel}> so I can answer in context and "
              "help the team understand what members need. Type /privacy statement to read "
              "what is kept and for how long; /privacy export, /privacy delete and "
              "/privacy opt-out are yours to use at any time.")
_USER = re.compile(r"^<@!?(\d{1,20})>$|^(\d{1,20})$")


async def enforce_retention(db: Database, writer: ArchiveWriter) -> int:
    """Delete archived messages older than each guild's retention, and resolved complaints
    as old; how many went. What depends on a message (its labels, the products it names)
    goes with it. Open complaints stay until a moderator resolves them."""
    deleted = 0
    await writer.flush()
    for guild, days in await db.fetchall(
            "SELECT guild_id, retention_days FROM guild_settings WHERE retention_days IS NOT NULL"):
        cutoff = int(time.time() * 1000) - days * 86_400_000
        while True:  # in batches, so the write lock is never held for long
            n = await db.write(
                "DELETE FROM messages WHERE message_id IN (SELECT message_id FROM messages "
                "WHERE guild_id = ? AND created_at < ? LIMIT ?)", (guild, cutoff, RETENTION_BATCH))
            deleted += n
            if n < RETENTION_BATCH:
                break
        # a resolved complaint's snapshot of the member's words goes the same way
        deleted += await db.write("DELETE FROM followups WHERE guild_id = ? AND created_at < ? "
                                  "AND resolved_at IS NOT NULL", (guild, cutoff))
    if deleted:
        log.info("retention: deleted %d archived messages", deleted)
    return deleted


def setup(services: Services) -> Feature:
    db, poster = services.db, services.poster
    consent = Consent(db)
    memory = MemberMemory(db)
    notes: set[asyncio.Task] = set()

    def registry() -> Features:
        if services.features is None:
            raise RuntimeError("privacy: asked before the features were loaded")
        return services.features

    async def gate(event: MessageEvent) -> str | None:
        """ARCHIVE stage, first: a message that may not be stored is marked so, and the
        member who is stored for the first time is told."""
        msg = event.msg
        if msg.author_is_bot:
            return None
        try:
            allowed = await consent.may_store(msg.guild_key, msg.author_id)
        except Exception:  # fail closed: an unreadable consent stores nothing
            log.exception("could not read the consent of member %d; not storing", msg.author_id)
            allowed = False
        if not allowed:
            event.store = False
            return None
        if msg.guild_id is not None and await consent.mark_notified(msg.guild_key, msg.author_id):
            note = asyncio.create_task(tell(msg.author_id, msg.channel_id))  # not in its way
            notes.add(note)
            note.add_done_callback(notes.discard)
        return None

    async def tell(user_id: int, channel_id: int) -> None:
        try:
            await poster.send(DirectTarget(user_id), Reply(FIRST_NOTE.format(channel=channel_id)))
        except Exception:
            log.info("could not tell member %d what is kept (DMs closed?)", user_id)

    async def statement(inv: Invocation) -> Reply:
        archive, training, days = await consent.guild(guild_key(inv.caller.guild_id))
        here = (f"In this server: archiving is {archive}, training use is {training}, and "
                + (f"messages are kept {days} days." if days else "messages are kept until deleted."))
        return Reply(f"{STATEMENT}\n\n{here}")

    async def export(inv: Invocation) -> Reply:
        guild = guild_key(inv.caller.guild_id)
        data = await registry().export_member(guild, inv.caller.user_id)
        body = json.dumps(data, indent=2, ensure_ascii=False).encode()
        return Reply(f"Everything I keep about you here (user id {inv.caller.user_id}).",
                     files=(File(f"my-data-{inv.caller.user_id}.json", body,
                                 "Your data, as JSON"),))

    async def erase(guild: int, user_id: int) -> int:
        """Every feature's rows about the member, twice: while the first pass runs, the
        insights job may still label a message the archive has not deleted yet; after it,
        no message is left to derive anything from."""
        first = await registry().delete_member(guild, user_id)
        again = await registry().delete_member(guild, user_id)
        return sum(first.values()) + sum(again.values())

    async def delete(inv: Invocation) -> Reply:
        if (inv.get("confirm") or "").lower() == "yes":
            return Reply(await erased_text(guild_key(inv.caller.guild_id), inv.caller.user_id))
        return Reply("This erases everything I keep about you here: your messages, the facts "
                     f"I remember, your labels and follow-ups. {KEPT} It cannot be undone.",
                     components=(Button("Delete my data", custom_id(ROUTE, f"delete:{inv.caller.user_id}"),
                                        "danger"),))

    async def erased_text(guild: int, user_id: int) -> str:
        count = await erase(guild, user_id)
        return f"Done: {count} stored item{'s' if count != 1 else ''} erased. {KEPT}"

    async def press(p: Press) -> Reply:
        verb, _, owner = p.data.partition(":")
        if verb != "delete" or owner != str(p.caller.user_id):
            return Reply("Only the member who asked can confirm this.")
        return Reply(await erased_text(guild_key(p.caller.guild_id), p.caller.user_id)).replacing()

    async def opt_out(inv: Invocation) -> Reply:
        guild = guild_key(inv.caller.guild_id)
        await consent.set_member(guild, inv.caller.user_id, storage="out", training="out")
        count = await erase(guild, inv.caller.user_id)
        return Reply(f"From now on I store nothing you write here, and I erased the {count} "
                     f"item{'s' if count != 1 else ''} I had. {KEPT} I still answer you. "
                     "/privacy opt-in undoes this.")

    async def opt_in(inv: Invocation) -> Reply:
        guild = guild_key(inv.caller.guild_id)
        training = (inv.get("training") or "no") == "yes"
        await consent.set_member(guild, inv.caller.user_id, storage="in",
                                 training="in" if training else None)
        stored = await consent.may_store(guild, inv.caller.user_id)
        text = ("Thanks: I keep your messages here again." if stored else
                "Noted, but this server does not archive messages at the moment.")
        if training:
            text += (" Your messages may also be used to train the bot's model." if
                     await consent.may_train(guild, inv.caller.user_id) else
                     " This server does not use messages for training at the moment.")
        return Reply(text)

    async def facts(inv: Invocation) -> Reply:
        remembered = await memory.facts(guild_key(inv.caller.guild_id), inv.caller.user_id)
        if not remembered:
            return Reply("I don't remember anything about you.")
        return Reply(sanitize("What I remember about you:\n" + "\n".join(f"- {f}" for f in remembered)
                              + "\nForget one with /privacy forget fact:<words from it>."))

    async def forget(inv: Invocation) -> Reply:
        forgotten = await memory.forget_matching(guild_key(inv.caller.guild_id),
                                                 inv.caller.user_id, inv.get("fact"))
        if not forgotten:
            return Reply("No fact I remember about you says that; /privacy facts lists them.")
        return Reply(sanitize("Forgotten: " + "; ".join(forgotten) + "."))

    async def purge_member(inv: Invocation) -> Reply:
        found = _USER.match((inv.get("user") or "").strip())
        if not found:
            return Reply("Give the member's user id (or mention), like 123456789012345678.")
        user_id = int(found.group(1) or found.group(2))
        count = await erase(guild_key(inv.caller.guild_id), user_id)
        return Reply(f"Erased {count} stored item{'s' if count != 1 else ''} about user {user_id}. "
                     "Their moderation cases are kept without their evidence.")

    async def settings(inv: Invocation) -> Reply:
        guild = inv.caller.guild_id
        for option, column in (("archive", "archive_consent"), ("training", "training_consent")):
            if inv.get(option):
                await consent.set_guild(guild, column, inv.get(option))
        if inv.get("retention_days") is not None:
            days = inv.get("retention_days")
            await consent.set_guild(guild, "retention_days", days or None)
        archive, training, days = await consent.guild(guild)
        return Reply(f"Archiving: {archive}. Training use: {training}. Retention: "
                     + (f"{days} days (older messages are deleted daily)." if days else "none set (kept until deleted)."))

    async def retention_job() -> None:
        while True:
            await enforce_retention(db, services.writer)
            await asyncio.sleep(RETENTION_CHECK_S)

    mode = Option("archive", OptionKind.CHOICE, "Archive members' messages", required=False,
                  choices=MODES)
    own = "Your data: "
    return Feature(
        name="privacy",
        hooks=(MessageHook(Stage.ARCHIVE, gate),),
        commands=(
            Command("statement", "What the bot keeps about members, why, and for how long",
                    statement, group="privacy"),
            Command("export", own + "everything the bot keeps about you, as a JSON file", export,
                    group="privacy"),
            Command("delete", own + "erase everything the bot keeps about you", delete,
                    group="privacy", options=(Option("confirm", OptionKind.CHOICE,
                                                     "yes: erase without asking again",
                                                     required=False, choices=("yes",)),)),
            Command("facts", own + "the facts the bot remembers about you", facts, group="privacy"),
            Command("forget", own + "make the bot forget one fact", forget, group="privacy",
                    options=(Option("fact", OptionKind.STRING, "Words from the fact", high=200),)),
            Command("opt-out", own + "store nothing you write, and erase what is stored",
                    opt_out, group="privacy"),
            Command("opt-in", own + "let the bot keep your messages again", opt_in,
                    group="privacy", options=(Option(
                        "training", OptionKind.CHOICE, "Also let your messages train the model",
                        required=False, choices=("yes", "no")),)),
            # Discord sets who sees a command per top-level group, so the moderators' and
            # managers' commands live in their groups: /mod purge-member, /settings privacy.
            Command("purge-member", "Erase what the bot keeps about a member who left",
                    purge_member, group="mod", access=MODERATORS, options=(
                        Option("user", OptionKind.STRING, "Their user id", high=30),)),
            Command("privacy", "Archiving and training consent, and how long messages are kept",
                    settings, group="settings", access=MANAGE_SERVER, options=(
                        mode, Option("training", OptionKind.CHOICE, "Use messages for training",
                                     required=False, choices=MODES),
                        Option("retention_days", OptionKind.INTEGER,
                               f"Delete messages older than this (0: keep; at most {MAX_RETENTION_DAYS})",
                               required=False, low=0, high=MAX_RETENTION_DAYS))),
        ),
        components=(ComponentRoute(ROUTE, press),),
        jobs=(Job("retention", retention_job),),
        data=DataHooks(covers=("member_consent.user_id",), export=consent.export,
                       delete=consent.forget),
        precedes=("archive", "memory"),  # its gate decides what they may keep
    )
