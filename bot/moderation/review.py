"""Reviewing reports: "Report to moderators" on any message, the report card in the mod
log with buttons, and ``/mod reports`` to work through the queue.

A member's report answers them privately and tells nobody else who reported. A new report
is posted to the mod-log channel as a card with **Delete message**, **Delete and warn**
(or **Warn author** once the message is gone) and **Dismiss**. The buttons are persistent
(``report:<number>:<verb>``) and moderator-only, checked when pressed; the action goes
through the ``Enforcer``, so it is a case like any other, and the card is edited to say
who resolved it and how. Without a mod-log channel, ``/mod reports`` shows the same cards.
"""

from __future__ import annotations

from bot.core.commands import MODERATORS, Caller, Command, Invocation, MessageCommand, MessageRef
from bot.core.feature import Services
from bot.core.posting import post_to_modlog
from bot.core.replies import Button, ComponentRoute, Embed, Field, Press, Reply, custom_id
from bot.core.text import sanitize
from bot.moderation.enforce import Enforcer
from bot.moderation.reports import Report, ReportError, ReportQueue

ROUTE = "report"
REPORT_MENU = "Report to moderators"
THANKS = ("Thanks, moderators will look at it. Nobody but them can see who reported a "
          "message.")
VERBS = ("delete", "warn", "dismiss")


def message_link(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def card(report: Report, footer: str = "") -> Reply:
    """The report as moderators see it, with buttons while it is open."""
    by = ("automod" if report.source == "automod" else
          f"{report.reporters} member{'s' if report.reporters != 1 else ''}")
    fields = [Field("Author", f"<@{report.author_id}>", inline=True),
              Field("Channel", f"<#{report.channel_id}>", inline=True),
              Field("Reported by", by, inline=True),
              Field("Why", sanitize(report.reason[:500])),
              Field("Message", "deleted" if report.deleted else
                    message_link(report.guild_id, report.channel_id, report.message_id))]
    if report.attachments:
        fields.append(Field("Attachments", ", ".join(sanitize(a) for a in report.attachments)))
    if report.status == "resolved":
        who = f"<@{report.resolved_by}>" if report.resolved_by else "a former moderator"
        fields.append(Field("Resolved", f"{sanitize(report.resolution or '')} by {who}"
                            + (f" (case {report.case_number})" if report.case_number else "")))
    content = "> " + sanitize(report.content[:900]) if report.content else "(no text)"
    embed = Embed(title=f"Report {report.number}", description=content, fields=tuple(fields),
                  footer=footer)
    buttons: tuple[Button, ...] = ()
    if report.status == "open":
        def button(label: str, verb: str, style: str) -> Button:
            return Button(label, custom_id(ROUTE, f"{report.number}:{verb}"), style)
        buttons = ((button("Warn author", "warn", "danger"),) if report.deleted else
                   (button("Delete message", "delete", "danger"),
                    button("Delete and warn", "warn", "danger")))
        buttons += (button("Dismiss", "dismiss", "secondary"),)
    return Reply(embeds=(embed,), components=buttons)


class Review:
    def __init__(self, services: Services, queue: ReportQueue, enforcer: Enforcer) -> None:
        self._s = services
        self.queue = queue
        self._enforcer = enforcer

    async def file(self, guild: int, **kw) -> Report:
        """File a report and, when it is new, post its card to the mod log."""
        report, new = await self.queue.file(guild, **kw)
        if new:
            await post_to_modlog(self._s.guilds, self._s.poster, guild, card(report))
        return report

    async def report_message(self, caller: Caller, message: MessageRef) -> Reply:
        if message.author_id == caller.user_id:
            return Reply("That's your own message; you can edit or delete it yourself.")
        await self.file(caller.guild_id, source="member", channel_id=message.channel_id,
                        message_id=message.message_id, author_id=message.author_id,
                        reason="reported by a member", content=message.content,
                        attachments=message.attachments, reporter_id=caller.user_id)
        return Reply(THANKS)

    async def press(self, press: Press) -> Reply:
        number, _, verb = press.data.partition(":")
        guild = press.caller.guild_id
        if not number.isdigit() or verb not in VERBS or guild is None:
            return Reply("That button no longer does anything.")
        try:
            report = await self.queue.claim(guild, int(number), press.caller.user_id)
        except ReportError as exc:
            current = await self.queue.get(guild, int(number))
            if current is None or current.status != "resolved":
                return Reply(f"{exc}.")
            return card(current, "Already resolved.").replacing()
        try:
            done, case, deleted = await self._carry_out(press.caller, report, verb)
        except BaseException:
            await self.queue.release(report)
            raise
        if done is None:
            await self.queue.release(report)
            return Reply(case)  # a refusal: nothing changed, the buttons stay
        report = await self.queue.resolve(guild, report.number, press.caller.user_id, done,
                                          case_number=case, deleted=deleted)
        left = (await self.queue.open_reports(guild, limit=0))[1]
        footer = (f"{left} open report{'s' if left != 1 else ''} left (/mod reports)." if left
                  else "No open reports left.")
        return card(report, footer).replacing()

    async def _carry_out(self, moderator: Caller, report: Report, verb: str):
        """(resolution, case number, deleted), or (None, the refusal, False)."""
        if verb == "dismiss":
            return "dismissed", None, False
        act = self._enforcer.act
        guild, reason = moderator.guild_id, f"report {report.number}: {report.reason}"
        evidence = dict(evidence=report.content, attachments=report.attachments,
                        channel_id=report.channel_id, message_id=report.message_id)
        deleted, case = report.deleted, None
        if not deleted:
            outcome = await act(guild, moderator.user_id, "delete", report.author_id,
                                "the author", reason, tell=verb == "delete", **evidence)
            if outcome.case is None:
                return None, outcome.text, False
            deleted, case = True, outcome.case.number
        if verb == "delete":
            return "message deleted", case, deleted
        outcome = await act(guild, moderator.user_id, "warn", report.author_id, "the author",
                            reason, **evidence)
        if outcome.case is None:
            if case is None:
                return None, outcome.text, False
            # the message is gone, so the report is done; the warning was refused
            return f"message deleted; no warning ({outcome.text})", case, deleted
        return "author warned" + (", message deleted" if case else ""), outcome.case.number, deleted

    async def queue_command(self, inv: Invocation) -> Reply:
        reports, total = await self.queue.open_reports(inv.caller.guild_id, limit=1)
        if not reports:
            return Reply("No open reports.")
        return card(reports[0], f"The oldest of {total} open report{'s' if total != 1 else ''}.")

    def declarations(self) -> tuple[tuple[Command, ...], tuple[MessageCommand, ...],
                                    tuple[ComponentRoute, ...]]:
        return ((Command("reports", "The review queue: the oldest open report, with buttons",
                         self.queue_command, group="mod", access=MODERATORS),),
                (MessageCommand(REPORT_MENU, self.report_message),),
                (ComponentRoute(ROUTE, self.press, access=MODERATORS),))

