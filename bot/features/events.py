"""Events: ``/event plan`` has the model propose an event, and approving it creates a real
guild scheduled event with reminder posts 24 hours and 1 hour before.

The proposal (title, description, agenda, engagement ideas; ``bot.announce.events``) is
answered privately with **Approve**, **Regenerate** and **Discard**. Approving creates the
event through the posting port (discord.py's ``Guild.create_scheduled_event``; an external
event at ``location``, or one in a voice or stage ``voice`` channel) and schedules the
reminders in ``channel`` through the same exactly-once schedule as announcements (a
reminder whose time has passed is left out). When the event is moved or cancelled, on
Discord or with ``/event move`` and ``/event cancel``, its reminders follow: moved ones
are scheduled again for the new time, cancelled ones are cancelled.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

from bot.announce.events import REMINDERS_H, Plan, Planner, PlanStore
from bot.core.commands import MODERATORS, Command, Invocation, Option, OptionKind
from bot.core.feature import DataHooks, Feature, Services
from bot.core.posting import PostingError, ScheduledEvent
from bot.core.replies import Button, ComponentRoute, Embed, Field, Press, Reply, custom_id
from bot.model import Busy
from bot.schedule.store import ScheduleError, ScheduleStore

ROUTE = "event"
BUSY = "The model is busy right now; please try again in a minute."
MAX_DAYS_AHEAD = 365


def _now() -> int:
    return int(time.time() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, timezone.utc)


def plan_reply(plan: Plan, note: str = "", decided: str = "") -> Reply:
    p = plan.proposal
    where = plan.location or f"<#{plan.voice_channel_id}>"
    fields = [Field("When", f"<t:{plan.starts_at // 1000}:f> to <t:{plan.ends_at // 1000}:t>"),
              Field("Where", where, inline=True),
              Field("Reminders in", f"<#{plan.announce_channel_id}>", inline=True)]
    if p.agenda:
        fields.append(Field("Agenda", p.agenda))
    if p.ideas:
        fields.append(Field("Engagement ideas", p.ideas))
    embed = Embed(title=f"Event plan {plan.id}: {p.title}", description=p.description,
                  fields=tuple(fields),
                  footer=decided or "Approve creates the event and its reminders.")
    buttons = ()
    if plan.status == "draft" and not decided:
        buttons = tuple(Button(label, custom_id(ROUTE, f"{verb}:{plan.id}"), style)
                        for label, verb, style in (("Approve", "approve", "success"),
                                                   ("Regenerate", "regenerate", "secondary"),
                                                   ("Discard", "discard", "danger")))
    return Reply(note, embeds=(embed,), components=buttons)


def setup(services: Services) -> Feature:
    plans, schedules = PlanStore(services.db), ScheduleStore(services.db)
    planner = Planner(services.model, services.pipeline)

    def brief_of(theme: str, goal: str, start: datetime, end: datetime) -> str:
        local = lambda d: d.strftime("%A %d %B %Y, %H:%M")  # noqa: E731
        return (f"Theme: {theme}\nGoal: {goal}\nWhen: {local(start)} to {local(end)} "
                f"({start.tzname()})")

    async def reminders(plan: Plan, start_ms: int) -> int:
        """Schedule the reminders still ahead for an event starting at ``start_ms``."""
        made, now = 0, _now()
        tz = services.guilds.tz(plan.guild_id)
        for hours in REMINDERS_H:
            due = start_ms - hours * 3_600_000
            if due <= now:
                continue
            ahead = "tomorrow" if hours == 24 else "in an hour"
            text = (f"Reminder: **{plan.title}** starts {ahead}, <t:{start_ms // 1000}:f> "
                    f"(<t:{start_ms // 1000}:R>).")
            await schedules.add(plan.guild_id, plan.announce_channel_id, text, due, tz=tz.key,
                                now=now, kind="reminder", event_id=plan.event_id,
                                created_by=plan.decided_by)
            made += 1
        return made

    async def cancel_reminders(guild: int, event_id: int) -> None:
        for item in await schedules.for_event(guild, event_id):
            try:
                await schedules.set_state(guild, item.number, "cancelled", ("scheduled", "paused"),
                                          _now())
            except ScheduleError:
                pass  # sent or cancelled meanwhile: nothing left to cancel

    async def follow(guild: int, event_id: int, start: datetime | None, end: datetime | None,
                     cancelled: bool) -> None:
        """The event changed on the platform: its reminders follow. A change made with
        /event move or cancel arrives twice (the command, then Discord's own event), so the
        plan is updated first with a compare-and-set, and only the first caller goes on."""
        plan = await plans.by_event(guild, event_id)
        if plan is None or plan.status != "approved":
            return
        if cancelled:
            if await plans.update(plan, _now(), expect="approved", status="cancelled"):
                await cancel_reminders(guild, event_id)
            return
        if start is None or int(start.timestamp() * 1000) == plan.starts_at:
            return
        starts = int(start.timestamp() * 1000)
        ends = int(end.timestamp() * 1000) if end else starts + (plan.ends_at - plan.starts_at)
        if not await services.db.write(
                "UPDATE event_plans SET starts_at = ?, ends_at = ?, updated_at = ? WHERE id = ? "
                "AND status = 'approved' AND starts_at = ?",
                (starts, ends, _now(), plan.id, plan.starts_at)):
            return
        await cancel_reminders(guild, event_id)
        await reminders(await plans.get(guild, plan.id), starts)

    async def plan_command(inv: Invocation) -> Reply:
        guild = inv.caller.guild_id
        start, end = inv.get("start"), inv.get("end")
        location, voice = inv.get("location"), inv.get("voice")
        if (location is None) == (voice is None):
            return Reply("Give a location (an external event) or a voice channel, not both.")
        now = datetime.now(timezone.utc)
        if start <= now:
            return Reply("start: that time has passed.")
        if end <= start:
            return Reply("end: the event must end after it starts.")
        if (start - now).days > MAX_DAYS_AHEAD:
            return Reply(f"start: at most {MAX_DAYS_AHEAD} days ahead.")
        theme, goal = " ".join(inv.get("theme").split()), " ".join(inv.get("goal").split())
        channel = inv.get("channel").channel_id
        try:
            proposal, why = await planner.propose(brief_of(theme, goal, start, end), theme, goal,
                                                  guild, channel)
        except Busy:
            return Reply(BUSY)
        plan = await plans.add(guild, theme, goal, int(start.timestamp() * 1000),
                               int(end.timestamp() * 1000), proposal,
                               announce_channel_id=channel, author_id=inv.caller.user_id,
                               now=_now(), location=location,
                               voice_channel_id=voice and voice.channel_id)
        note = (f"The model's plan could not be used ({why}), so this plan is your theme and goal."
                if why else "")
        return plan_reply(plan, note)

    async def press(p: Press) -> Reply:
        verb, _, number = p.data.partition(":")
        guild = p.caller.guild_id
        plan = await plans.get(guild, int(number)) if number.isdigit() and guild else None
        if plan is None or verb not in ("approve", "regenerate", "discard"):
            return Reply("That plan no longer exists.")
        if plan.status != "draft":
            return Reply(f"Plan {plan.id} was already {plan.status}; nothing changed.")
        tz = services.guilds.tz(guild)
        if verb == "regenerate":
            start, end = _dt(plan.starts_at).astimezone(tz), _dt(plan.ends_at).astimezone(tz)
            try:
                proposal, why = await planner.propose(brief_of(plan.theme, plan.goal, start, end),
                                                      plan.theme, plan.goal, guild,
                                                      plan.announce_channel_id)
            except Busy:
                return Reply(BUSY)
            await plans.update(plan, _now(), title=proposal.title, description=proposal.description,
                               agenda=proposal.agenda, ideas=proposal.ideas)
            note = f"The model's plan could not be used ({why})." if why else ""
            return plan_reply(await plans.get(guild, plan.id), note).replacing()
        who = f"<@{p.caller.user_id}>"
        if verb == "discard":
            if not await plans.update(plan, _now(), status="discarded", decided_by=p.caller.user_id):
                return Reply(f"Plan {plan.id} was decided meanwhile; nothing changed.")
            return plan_reply(plan, decided=f"Discarded by {who}.").replacing()
        if plan.starts_at <= _now():
            return Reply("The event's start has passed; plan it again with a new time.")
        if not await plans.update(plan, _now(), status="approved", decided_by=p.caller.user_id):
            return Reply(f"Plan {plan.id} was decided meanwhile; nothing changed.")
        try:
            event_id = await services.poster.create_event(ScheduledEvent(
                guild, plan.title, _dt(plan.starts_at), _dt(plan.ends_at),
                plan.proposal.event_description(), channel_id=plan.voice_channel_id,
                location=plan.location))
        except PostingError as exc:
            await plans.update(plan, _now(), expect="approved", status="draft", decided_by=None)
            return Reply(f"The event could not be created: {exc}. The plan is still a draft.")
        await plans.update(plan, _now(), expect="approved", event_id=event_id)
        made = await reminders(await plans.get(guild, plan.id), plan.starts_at)
        decided = (f"Approved by {who}: the event is created, with {made} "
                   f"reminder{'s' if made != 1 else ''}.")
        return plan_reply(plan, decided=decided).replacing()

    async def change(inv: Invocation, cancel: bool) -> Reply:
        plan = await plans.get(inv.caller.guild_id, inv.get("plan"))
        if plan is None or plan.status != "approved" or plan.event_id is None:
            return Reply(f"Plan {inv.get('plan')} has no event to change.")
        start = inv.get("start")
        if not cancel and start <= datetime.now(timezone.utc):
            return Reply("start: that time has passed.")
        end = None if cancel else start + (_dt(plan.ends_at) - _dt(plan.starts_at))
        try:
            await services.poster.update_event(plan.guild_id, plan.event_id, start=start, end=end,
                                               cancel=cancel)
        except PostingError as exc:
            return Reply(f"Nothing changed: {exc}.")
        await follow(plan.guild_id, plan.event_id, start, end, cancel)
        return Reply("The event and its reminders are cancelled." if cancel else
                     f"The event now starts <t:{int(start.timestamp())}:f>; its reminders moved with it.")

    async def export(guild: int, user_id: int) -> dict:
        return {"event_plans": await plans.export(guild, user_id)}

    async def move(inv: Invocation) -> Reply:
        return await change(inv, cancel=False)

    async def cancel(inv: Invocation) -> Reply:
        return await change(inv, cancel=True)

    plan_number = Option("plan", OptionKind.INTEGER, "The event plan's number", low=1, high=10**9)

    def command(name, description, handler, *options):
        return Command(name, description, handler, group="event", options=options, access=MODERATORS)

    return Feature(
        name="events",
        commands=(
            command("plan", "Have the model plan an event for you to approve", plan_command,
                    Option("theme", OptionKind.STRING, "What the event is about", low=3, high=200),
                    Option("goal", OptionKind.STRING, "What it should achieve", low=3, high=300),
                    Option("start", OptionKind.DATETIME, "When it starts (server time zone)"),
                    Option("end", OptionKind.DATETIME, "When it ends"),
                    Option("channel", OptionKind.CHANNEL, "Where its reminders are posted"),
                    Option("location", OptionKind.STRING, "Where it happens, for an external event",
                           required=False, low=1, high=100),
                    Option("voice", OptionKind.CHANNEL, "Or: the voice or stage channel",
                           required=False)),
            command("move", "Move an approved event; its reminders follow", move, plan_number,
                    Option("start", OptionKind.DATETIME, "The new start")),
            command("cancel", "Cancel an approved event and its reminders", cancel, plan_number),
        ),
        components=(ComponentRoute(ROUTE, press, access=MODERATORS),),
        on_guild_event=follow,
        data=DataHooks(covers=("event_plans.author_id", "event_plans.decided_by"),
                       export=export, delete=plans.unlink),
        requires=("announcements",),
    )

