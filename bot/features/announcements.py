"""Announcements: model-drafted posts that a moderator approves, and the scheduler that
posts them, at their time, exactly once.

``/announce draft`` has the model write from the moderator's brief (``bot.announce``), and
answers privately with the draft and persistent buttons: **Approve**, **Edit** (a form with
the text), **Regenerate**, **Discard**. Approving puts the post in the schedule (due at once, or at
the time the moderator chose, in the guild's time zone, optionally repeating) and wakes
the dispatcher (``bot.schedule.dispatcher``), the background job that posts it. A role is
pinged only when the moderator chose it with ``ping``; the model's text never pings.
``/schedule list|cancel|pause|resume|edit`` manage what is still to come.

Data: drafts and scheduled posts name the moderator who made or decided them; a deletion
request unlinks the name and keeps the shop's posts.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from bot.announce.drafts import (APPROVED, DISCARDED, DRAFT, KINDS, TONES, Draft, DraftError,
                                 DraftStore, Writer)
from bot.core.commands import MODERATORS, Command, Invocation, Option, OptionKind, RoleRef
from bot.core.feature import DataHooks, Feature, Services
from bot.core.jobs import Job
from bot.core.posting import post_to_modlog
from bot.core.replies import (Button, ComponentRoute, Embed, Field, Form, Press, Reply, TextField,
                              custom_id)
from bot.core.text import sanitize
from bot.grounding.describe import preview
from bot.model import Busy
from bot.schedule.dispatcher import Dispatcher
from bot.schedule.recurrence import Recurrence, RecurrenceError, next_after
from bot.schedule.store import Item, ScheduleError, ScheduleStore

BUSY = "The model is busy right now; please try again in a minute."
REPEATS = ("once", "daily", "weekly", "monthly")
ROUTE, EDIT_ROUTE = "announce", "announce.edit"
MAX_TEXT = 1900  # room for a role mention in front, within Discord's 2,000
VERBS = ("approve", "regenerate", "discard")


def _now() -> int:
    return int(time.time() * 1000)


def _ms(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1000)


def when_text(ms: int | None) -> str:
    return "as soon as it is approved" if ms is None else f"<t:{ms // 1000}:f>"


def repeat_text(recurrence: str | None, until: int | None) -> str:
    if recurrence is None:
        return "once"
    return Recurrence.parse(recurrence).describe() + (f" until <t:{until // 1000}:d>" if until else "")


def draft_reply(draft: Draft, note: str = "", *, decided: str = "") -> Reply:
    """The private preview: the text, where and when, and the buttons while undecided."""
    fields = (Field("Channel", f"<#{draft.channel_id}>", inline=True),
              Field("When", when_text(draft.post_at), inline=True),
              Field("Repeats", repeat_text(draft.recurrence, draft.until_at), inline=True),
              Field("Pings", f"<@&{draft.ping_role_id}>" if draft.ping_role_id else "nobody",
                    inline=True))
    embed = Embed(title=f"Draft {draft.id}: {draft.kind.replace('-', ' ')} announcement",
                  description=preview(draft.text), fields=fields,
                  footer=decided or "Nothing is posted until a moderator approves it.")
    buttons = ()
    if draft.status == DRAFT and not decided:
        buttons = (Button("Approve", custom_id(ROUTE, f"approve:{draft.id}"), "success"),
                   Button("Edit", custom_id(EDIT_ROUTE, str(draft.id)), "secondary"),
                   Button("Regenerate", custom_id(ROUTE, f"regenerate:{draft.id}"), "secondary"),
                   Button("Discard", custom_id(ROUTE, f"discard:{draft.id}"), "danger"))
    return Reply(note or "", embeds=(embed,), components=buttons)


def item_line(item: Item) -> str:
    state = "" if item.state == "scheduled" else f" ({item.state})"
    return (f"#{item.number} <#{item.channel_id}> {when_text(item.due_at)}, "
            f"{repeat_text(item.recurrence, item.until_at)}{state}: {sanitize(item.text[:80])}")


def setup(services: Services) -> Feature:
    drafts, schedules = DraftStore(services.db), ScheduleStore(services.db)
    writer = Writer(services.model, services.pipeline)

    async def notify(guild: int, text: str) -> None:
        await post_to_modlog(services.guilds, services.poster, guild, text)

    dispatcher = Dispatcher(schedules, services.poster, bot_user_id=services.bot_user_id,
                            notify=notify)

    async def draft(inv: Invocation) -> Reply:
        guild, channel = inv.caller.guild_id, inv.get("channel")
        brief = " ".join(inv.get("what").split())
        post_at, until = _ms(inv.get("when")), _ms(inv.get("until"))
        if post_at is not None and post_at <= _now():
            return Reply("when: that time has passed; leave it out to post on approval.")
        repeat = inv.get("repeat", "once")
        recurrence = None
        if repeat != "once":
            if post_at is None:
                return Reply("repeat: a repeating post needs a first time (when=…).")
            try:
                rule = Recurrence.parse(repeat + (f":{inv.get('days')}" if inv.get("days") else ""))
            except RecurrenceError as exc:
                return Reply(f"days: {exc}")
            recurrence, first = rule.text, inv.get("when")
            if rule.kind == "weekly" and rule.days and first.weekday() not in rule.days:
                # the first post goes out on the first chosen day, at the chosen time
                post_at = _ms(next_after(first, rule, first, first.tzinfo))
        if until is not None and (recurrence is None or until < post_at):
            return Reply("until: the end of a repeating post, after its first time.")
        try:
            text, why = await writer.write(brief, inv.get("kind"), inv.get("tone", "friendly"),
                                           guild, channel.channel_id)
        except Busy:
            return Reply(BUSY)
        role: RoleRef | None = inv.get("ping")
        made = await drafts.add(guild, channel.channel_id, brief, inv.get("kind"),
                                inv.get("tone", "friendly"), text, author_id=inv.caller.user_id,
                                now=_now(), ping_role_id=role and role.role_id, post_at=post_at,
                                recurrence=recurrence, until_at=until)
        note = (f"The model's draft could not be used ({why}), so this draft is your brief."
                if why else "")
        return draft_reply(made, note)

    async def edit(p: Press) -> Reply:
        """Edit: a press opens a form with the draft's text; submitting it saves the text
        (the moderator's own words: not the model's, so not checked) and shows the draft."""
        guild = p.caller.guild_id
        found = await drafts.get(guild, int(p.data)) if p.data.isdigit() and guild else None
        if found is None:
            return Reply("That draft no longer exists.")
        if found.status != DRAFT:
            return Reply(f"Draft {found.id} was already {found.status}; nothing changed.")
        if not p.form:
            return Reply(form=Form(f"Edit draft {found.id}", custom_id(EDIT_ROUTE, str(found.id)),
                                   (TextField("text", "Announcement", found.text,
                                              max_length=MAX_TEXT),)))
        try:
            edited = await drafts.set_text(found, p.form.get("text", ""), _now())
        except DraftError as exc:
            return Reply(f"Nothing changed: {exc}.")
        return draft_reply(edited, "Edited.").replacing()

    async def press(p: Press) -> Reply:
        verb, _, number = p.data.partition(":")
        guild = p.caller.guild_id
        found = await drafts.get(guild, int(number)) if number.isdigit() and guild else None
        if found is None or verb not in VERBS:
            return Reply("That draft no longer exists.")
        if found.status != DRAFT:
            return Reply(f"Draft {found.id} was already {found.status}; nothing changed.")
        if verb == "regenerate":
            try:
                text, why = await writer.write(found.brief, found.kind, found.tone, guild,
                                               found.channel_id)
            except Busy:
                return Reply(BUSY)
            note = f"The model's draft could not be used ({why}), so this is your brief." if why else ""
            return draft_reply(await drafts.set_text(found, text, _now()), note).replacing()
        who = f"<@{p.caller.user_id}>"
        if verb == "discard":
            if not await drafts.decide(found, DISCARDED, p.caller.user_id, _now()):
                return Reply(f"Draft {found.id} was decided meanwhile; nothing changed.")
            return draft_reply(found, decided=f"Discarded by {who}.").replacing()
        now, tz = _now(), services.guilds.tz(guild)
        due = first = found.post_at or now
        if due < now:  # approved after its time: now, or a series' next time of day
            due = now
            if found.recurrence:
                due = int(next_after(datetime.fromtimestamp(first / 1000, timezone.utc),
                                     Recurrence.parse(found.recurrence),
                                     datetime.fromtimestamp(now / 1000, timezone.utc), tz
                                     ).timestamp() * 1000)
        try:
            item = await schedules.add(guild, found.channel_id, found.text, due, tz=tz.key, now=now,
                                       recurrence=found.recurrence, until_at=found.until_at,
                                       ping_role_id=found.ping_role_id,
                                       created_by=p.caller.user_id, first_at=first)
        except ScheduleError as exc:
            return Reply(f"Nothing was approved: {exc}. Draft it again with a new time.")
        if not await drafts.decide(found, APPROVED, p.caller.user_id, _now()):
            await schedules.set_state(guild, item.number, "cancelled", ("scheduled",), _now())
            return Reply(f"Draft {found.id} was decided meanwhile; nothing changed.")
        await services.db.write("UPDATE announcement_drafts SET post_id = ? WHERE id = ?",
                                (item.id, found.id))
        dispatcher.wake()
        decided = f"Approved by {who}: scheduled post {item.number}, {when_text(found.post_at)}."
        return draft_reply(found, decided=decided).replacing()

    # /schedule --------------------------------------------------------------------------

    async def listing(inv: Invocation) -> Reply:
        items = await schedules.listing(inv.caller.guild_id)
        if not items:
            return Reply("Nothing is scheduled.")
        return Reply("Scheduled:\n" + "\n".join(item_line(i) for i in items))

    def change(new: str, allowed: tuple[str, ...], done: str):
        async def handler(inv: Invocation) -> Reply:
            guild, number, now = inv.caller.guild_id, inv.get("number"), _now()
            due = None
            if new == "scheduled":  # resuming: a passed time goes to the next one (or now)
                item = await schedules.get(guild, number)
                if item is not None and item.due_at < now:
                    due = item.next_due(now) if item.recurrence else now
            try:
                item = await schedules.set_state(guild, number, new, allowed, now, due_at=due)
            except ScheduleError as exc:
                return Reply(f"Nothing changed: {exc}.")
            dispatcher.wake()
            return Reply(f"Post {item.number} {done}. " + item_line(item))
        return handler

    async def edit_item(inv: Invocation) -> Reply:
        text, when = inv.get("text"), _ms(inv.get("when"))
        if text is None and when is None:
            return Reply("Give the new text=…, when=…, or both.")
        if when is not None and when <= _now():
            return Reply("when: that time has passed.")
        try:
            item = await schedules.edit(inv.caller.guild_id, inv.get("number"), _now(),
                                        text=text, due_at=when)
        except ScheduleError as exc:
            return Reply(f"Nothing changed: {exc}.")
        dispatcher.wake()
        return Reply("Saved. " + item_line(item))

    async def export(guild: int, user_id: int) -> dict:
        rows = await services.db.fetchall(
            "SELECT number, text, due_at, state FROM scheduled_posts WHERE guild_id = ? "
            "AND created_by = ? ORDER BY number", (guild, user_id))
        return {"announcement_drafts": await drafts.export(guild, user_id),
                "scheduled_posts_you_made": [dict(zip(("number", "text", "due_at", "state"), r))
                                             for r in rows]}

    async def unlink(guild: int, user_id: int) -> int:
        return (await services.db.unlink("scheduled_posts", ("created_by",), guild, user_id)
                + await drafts.unlink(guild, user_id))

    number = Option("number", OptionKind.INTEGER, "The scheduled post's number", low=1, high=10**9)

    def command(name, description, handler, *options, group="schedule"):
        return Command(name, description, handler, group=group, options=options, access=MODERATORS)

    return Feature(
        name="announcements",
        commands=(
            command("draft", "Have the model draft an announcement for you to approve", draft,
                    Option("what", OptionKind.STRING, "What to announce: a sentence or bullet points",
                           low=3, high=1500),
                    Option("kind", OptionKind.CHOICE, "What kind of announcement", choices=KINDS),
                    Option("channel", OptionKind.CHANNEL, "Where it will be posted"),
                    Option("tone", OptionKind.CHOICE, "How it sounds", required=False, choices=TONES),
                    Option("when", OptionKind.DATETIME, "When to post (server time zone); "
                           "leave out to post on approval", required=False),
                    Option("repeat", OptionKind.CHOICE, "Post it again", required=False,
                           choices=REPEATS),
                    Option("days", OptionKind.STRING, "For weekly: days such as mon,thu",
                           required=False, low=3, high=40),
                    Option("until", OptionKind.DATETIME, "Stop repeating after this", required=False),
                    Option("ping", OptionKind.ROLE, "A role to ping when it is posted",
                           required=False), group="announce"),
            command("list", "What is scheduled, soonest first", listing),
            command("cancel", "Cancel a scheduled post", change("cancelled", ("scheduled", "paused"),
                                                                "is cancelled"), number),
            command("pause", "Pause a scheduled post", change("paused", ("scheduled",), "is paused"),
                    number),
            command("resume", "Resume a paused post", change("scheduled", ("paused",), "is resumed"),
                    number),
            command("edit", "Change a scheduled post's text or time", edit_item, number,
                    Option("text", OptionKind.STRING, "The new text", required=False, low=1,
                           high=MAX_TEXT),
                    Option("when", OptionKind.DATETIME, "The new time (server time zone)",
                           required=False)),
        ),
        components=(ComponentRoute(ROUTE, press, access=MODERATORS),
                    ComponentRoute(EDIT_ROUTE, edit, access=MODERATORS, opens_forms=True)),
        jobs=(Job("scheduler", dispatcher.run),),
        data=DataHooks(covers=("announcement_drafts.author_id", "announcement_drafts.decided_by",
                               "scheduled_posts.created_by"), export=export, delete=unlink),
    )

