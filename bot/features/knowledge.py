"""Knowledge: the shop's knowledge base run from Discord, not only from the CLI.

* ``/kb import`` (Manage Server): a file uploaded to the command goes through
  ``parse_document`` and one import transaction, exactly as ``python -m bot kb import``: a
  file with a bad row reports it by line and imports nothing. Uploads are capped at 2 MB
  before a byte is read; bigger catalogs go through the CLI.
* ``/ask`` (everyone, public): the grounded answer (``bot.grounding``) or the honest
  decline with the guild's staff, never the model's free text: a public answer under the
  shop's name must be a fact the shop gave. It is ``/ask`` rather than ``/faq ask`` because
  Discord's default permissions are per top-level command: a ``/faq`` group mixing it with
  the moderators' subcommands would show those to every member.
* ``/faq add|edit|remove`` (moderators): one entry at a time, keyed like an imported FAQ
  (``faq_key``), so a later import of a file holding the same question updates it.
* ``/product describe`` (moderators): the model drafts a description from the catalog
  entry and what members said about the product in the archive. Members' words are
  impressions, not facts, so the draft is fact-checked against the entry alone, retried
  once, and else replaced by the entry's own words. Drafts live in ``product_drafts``
  (migration 0006) behind persistent Approve/Discard buttons; nothing changes for members
  until a moderator approves, and a press re-checks that the draft is still pending.

Data: drafts are the shop's text, but who asked for one and who decided it are member ids,
so they are exported, and unlinked (set NULL) on a deletion request.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time

from bot.core.commands import (MANAGE_SERVER, MODERATORS, AttachmentRef, Command, Invocation, Option,
                               OptionKind)
from bot.core.dispatch import NOT_IN_DMS
from bot.core.feature import DataHooks, Feature, Services
from bot.core.pipeline import OutputCheck
from bot.core.posting import ChannelTarget
from bot.core.replies import Button, ComponentRoute, Embed, Press, Reply, custom_id
from bot.core.text import clean_text, sanitize
from bot.grounding import Grounder
from bot.grounding.answerer import source_of
from bot.grounding.compose import decline
from bot.grounding.describe import entry_draft, preview, product_facts, tidy
from bot.grounding.facts import Source, unsupported
from bot.kb import FAQ, PRODUCT, Entry, KBError, KnowledgeBase, Stored, parse_document
from bot.kb.entries import faq_key
from bot.model import Busy, ChatRequest

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
QUESTION_CHARS, ANSWER_CHARS = 300, 4000
MEMBER_QUOTES, QUOTE_CHARS = 8, 300      # what members say about a product, in the prompt
DRAFT_TOKENS, MIN_DRAFT_TOKENS = 220, 32
DRAFT_TIMEOUT_S = 120.0
APPROVE, DISCARD = "knowledge.approve", "knowledge.discard"
PENDING, APPROVED, DISCARDED = "pending", "approved", "discarded"
BUSY = "The model is busy right now; please try again in a minute."
_MENTION = re.compile(r"<[@#][!&]?\d+>")
SYSTEM = ("Describe this shop product in two to four warm, plain sentences. State only the "
          "facts below: no other price, number, size or stock. Use what members praise or "
          "criticise as impressions, naming no one.")


def setup(services: Services) -> Feature:
    db, model, guilds = services.db, services.model, services.guilds
    kb = KnowledgeBase(db)
    grounder = Grounder(kb, model, trusted=services.settings.model_trusted)

    # /kb import ---------------------------------------------------------------------------

    async def import_file(inv: Invocation) -> Reply:
        upload: AttachmentRef = inv.get("file")
        name = sanitize(upload.filename)
        if upload.size > MAX_UPLOAD_BYTES:
            return Reply(f"{name} is {upload.size:,} bytes; an upload may be at most 2 MB "
                         f"({MAX_UPLOAD_BYTES:,} bytes). Import bigger files with "
                         "`python -m bot kb import`.")
        data = await upload.read()
        if len(data) > MAX_UPLOAD_BYTES:
            return Reply(f"{name} is bigger than 2 MB; nothing imported.")
        replace = inv.get("replace", "no") == "yes"
        try:
            document = parse_document(upload.filename, data)
            summary = await kb.import_document(inv.caller.guild_id, document, replace=replace)
        except KBError as exc:
            return Reply(sanitize(" ".join(str(exc).split())))
        counts = [f"{summary.added} added", f"{summary.updated} updated",
                  f"{summary.unchanged} unchanged"]
        if replace:
            counts.append(f"{summary.removed} removed")
        return Reply(f"Imported {name}: {', '.join(counts)}.")

    # /ask ---------------------------------------------------------------------------------

    async def ask(inv: Invocation) -> Reply:
        guild, channel = inv.caller.guild_id, inv.caller.channel_id
        if guild is None:
            return Reply(NOT_IN_DMS, private=True)
        question = " ".join(clean_text(inv.get("question")).split())
        outcome = await grounder.respond(guild, question)
        asked = f"> {sanitize(question)}\n"
        if outcome.kind == "answer":
            text = sanitize(outcome.text)
            reason = await services.pipeline.check_output(OutputCheck(text, guild, channel))
            if not reason:
                return Reply(asked + text)
            log.warning("/ask: withheld the answer in guild %d: %s", guild, reason)
        staff = await guilds.staff(guild)
        if staff.role_id is not None and staff.ping:
            await call_staff(inv, question, staff.role_id, staff.channel_id or channel)
        return Reply(asked + decline(staff.role_id, staff.channel_id, staff.ping))

    async def call_staff(inv: Invocation, question: str, role: int, where: int) -> None:
        """The ping the guild allowed: a separate post, as a declined chat question gets."""
        text = (f"<@&{role}> {sanitize(inv.caller.name)} asked something I could not answer "
                f"in <#{inv.caller.channel_id}>:\n> {sanitize(question)}")
        try:
            await services.poster.send(ChannelTarget(inv.caller.guild_id, where),
                                       Reply(text, ping_role=role))
        except Exception:
            log.exception("/ask: could not call the staff in guild %d", inv.caller.guild_id)

    # /faq add|edit|remove ---------------------------------------------------------------------

    def faq_args(inv: Invocation) -> tuple[str, str, str]:
        question = " ".join(inv.get("question").split())
        return question, faq_key(question), (inv.get("answer") or "").strip()

    async def faq_add(inv: Invocation) -> Reply:
        question, key, answer = faq_args(inv)
        if not key or not answer:
            return Reply("question and answer: both need some words.")
        if await kb.get(inv.caller.guild_id, FAQ, key) is not None:
            return Reply("The FAQ already has that question: use /faq edit to change its answer.")
        await kb.put(inv.caller.guild_id, Entry(FAQ, key, question, answer), "/faq add")
        return Reply(sanitize(f"Added to the FAQ: **{question}**"))

    async def faq_edit(inv: Invocation) -> Reply:
        question, key, answer = faq_args(inv)
        held = await kb.get(inv.caller.guild_id, FAQ, key) if key and answer else None
        if held is None:
            return Reply("The FAQ has no such question (see `python -m bot kb list`); use "
                         "/faq add for a new one.")
        entry = dataclasses.replace(held.entry, title=question, body=answer)
        result = await kb.put(inv.caller.guild_id, entry, "/faq edit")
        return Reply(sanitize(f"The answer to **{question}** was already exactly that."
                              if result == "unchanged" else f"Updated the FAQ: **{question}**"))

    async def faq_remove(inv: Invocation) -> Reply:
        question, key, _ = faq_args(inv)
        if not key or not await kb.remove(inv.caller.guild_id, FAQ, key):
            return Reply("The FAQ has no such question; nothing removed.")
        return Reply(sanitize(f"Removed from the FAQ: **{question}**"))

    # /product describe ----------------------------------------------------------------------

    async def find_product(guild: int, text: str) -> Stored | None:
        """The product with that sku (any case), else the best search hit for the text."""
        text = " ".join(text.split())
        exact = await kb.get(guild, PRODUCT, text, ignore_case=True)
        if exact is not None:
            return exact
        hits = await kb.search(guild, text, limit=1, kinds=(PRODUCT,))
        return hits[0] if hits else None

    async def member_quotes(guild: int, entry: Entry) -> list[str]:
        """Up to ``MEMBER_QUOTES`` newest member messages naming the product, without
        mentions (the prompt needs what was said, not who said it)."""
        await services.writer.flush()
        rows = await db.fetchall(
            "SELECT content FROM messages WHERE guild_id = ? AND is_bot = 0 "
            "AND instr(lower(content), lower(?)) > 0 ORDER BY message_id DESC LIMIT ?",
            (guild, entry.title, MEMBER_QUOTES))
        quotes = [" ".join(_MENTION.sub("", clean_text(r[0])).split())[:QUOTE_CHARS] for r in rows]
        return [q for q in quotes if q]

    def request(stored: Stored, quotes: list[str], note: str) -> ChatRequest | None:
        """The prompt, fitted to the model's context: members' comments go first (the
        oldest first), then the current description; None when even the facts do not fit."""
        quotes, with_body = list(quotes), True
        while True:
            said = "".join(f"\n- {q}" for q in quotes)
            user = "Write the description." + (f" {note}" if note else "")
            if quotes:
                user = f"What members say about it:{said}\n\n{user}"
            messages = [("system", f"{SYSTEM}\n\n{product_facts(stored, with_body)}"),
                        ("user", user)]
            room = model.context_window - model.count_prompt(messages)
            if room >= MIN_DRAFT_TOKENS:
                return ChatRequest(messages, max_new_tokens=min(DRAFT_TOKENS, room),
                                   temperature=0.7, deadline=time.monotonic() + DRAFT_TIMEOUT_S)
            if quotes:
                quotes.pop()
            elif with_body:
                with_body = False
            else:
                return None

    async def passes(text: str, source: Source, guild: int, channel: int) -> str:
        """Why ``text`` may not be a draft ("" when it may)."""
        if not text:
            return "it was empty"
        problems = unsupported(text, [source])
        if problems:
            return "it states " + ", ".join(map(str, problems[:3])) + ", not in the entry"
        reason = await services.pipeline.check_output(OutputCheck(text, guild, channel, "draft"))
        return f"an output check refused it ({reason})" if reason else ""

    async def draft(stored: Stored, quotes: list[str], guild: int,
                    channel: int) -> tuple[str | None, str]:
        """(text, why the model's draft was not used: "" when it was). Raises Busy."""
        source, note, why = source_of(stored), "", ""
        for _ in range(2):  # one retry, told what was wrong
            req = request(stored, quotes, note)
            if req is None:
                why = "the product's facts do not fit in the model's context"
                break
            try:
                text = tidy(await model.complete(req))
            except Busy:
                raise
            except Exception:
                log.exception("/product describe: the model failed")
                why = "the model failed"
                break
            why = await passes(text, source, guild, channel)
            if not why:
                return text, ""
            note = "Your last draft stated facts that are not listed; leave out what is not listed."
        fallback = entry_draft(stored)
        refused = await services.pipeline.check_output(OutputCheck(fallback, guild, channel, "draft"))
        return (None if refused else fallback), why

    async def describe(inv: Invocation) -> Reply:
        guild, asked = inv.caller.guild_id, inv.get("product")
        stored = await find_product(guild, asked)
        if stored is None:
            return Reply(sanitize(f"No product matches {asked!r}; import a catalog with /kb import."))
        quotes = await member_quotes(guild, stored.entry)
        try:
            text, why = await draft(stored, quotes, guild, inv.caller.channel_id)
        except Busy:
            return Reply(BUSY)
        if text is None:
            return Reply("I could not write a draft that passes this server's checks.")
        async with db.transaction() as conn:
            cursor = await conn.execute(
                "INSERT INTO product_drafts (guild_id, sku, text, author_id, status, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (guild, stored.entry.key, text, inv.caller.user_id, PENDING, _now()))
            draft_id = cursor.lastrowid
        e = stored.entry
        comments = f"{len(quotes)} member comment{'s' if len(quotes) != 1 else ''}"
        head = sanitize(f"Draft description for **{e.title}** ({e.key}), from the catalog entry "
                        f"and {comments}.")
        if why:
            head += (f"\nThe model's draft could not be used ({why}), so this draft is the "
                     "entry's own description and attributes.")
        return Reply(head, embeds=(Embed(title=sanitize(e.title), description=preview(text),
                                         footer=f"Draft {draft_id}: Approve makes it the "
                                                "product's description"),),
                     components=(Button("Approve", custom_id(APPROVE, str(draft_id)), "success"),
                                 Button("Discard", custom_id(DISCARD, str(draft_id)), "danger")))

    # Approve / Discard --------------------------------------------------------------------

    async def pending_draft(press: Press) -> tuple[tuple | None, Reply | None]:
        """The draft row (id, guild, sku, text), or the reply refusing the press."""
        row = None
        if press.data.isdigit() and press.caller.guild_id is not None:
            row = await db.fetchone(
                "SELECT id, guild_id, sku, text, status, decided_by FROM product_drafts "
                "WHERE id = ? AND guild_id = ?", (int(press.data), press.caller.guild_id))
        if row is None:
            return None, Reply("That draft no longer exists.", replace=True)
        if row["status"] != PENDING:
            by = f" by <@{row['decided_by']}>" if row["decided_by"] is not None else ""
            return None, Reply(f"Draft {row['id']} was already {row['status']}{by}; "
                               "nothing changed.", replace=True)
        return tuple(row)[:4], None

    def claim(draft_id: int, status: str, user_id: int):
        async def mark(conn) -> bool:
            cursor = await conn.execute(
                "UPDATE product_drafts SET status = ?, decided_by = ?, decided_at = ? "
                "WHERE id = ? AND status = ?", (status, user_id, _now(), draft_id, PENDING))
            return cursor.rowcount == 1
        return mark

    async def approve(press: Press) -> Reply:
        row, refusal = await pending_draft(press)
        if refusal is not None:
            return refusal
        draft_id, guild, sku, text = row
        stored = await kb.get(guild, PRODUCT, sku)
        if stored is None:
            async with db.transaction() as conn:
                await claim(draft_id, DISCARDED, press.caller.user_id)(conn)
            return Reply(sanitize(f"{sku} is no longer in the knowledge base, so draft {draft_id} "
                                  "was discarded."), replace=True)
        entry = dataclasses.replace(stored.entry, body=text)
        written = await kb.put(guild, entry, stored.source,
                               guard=claim(draft_id, APPROVED, press.caller.user_id))
        if not written:  # someone else decided it between the read and the write
            return Reply(f"Draft {draft_id} was already decided; nothing changed.", replace=True)
        later = (f" A later import of {stored.source} replaces it unless the file has it too."
                 if stored.source and not stored.source.startswith("/") else "")
        return Reply(sanitize(f"Approved: draft {draft_id} is now the description of "
                              f"**{entry.title}** ({sku}).{later}"), replace=True)

    async def discard(press: Press) -> Reply:
        row, refusal = await pending_draft(press)
        if refusal is not None:
            return refusal
        async with db.transaction() as conn:
            done = await claim(row[0], DISCARDED, press.caller.user_id)(conn)
        if not done:
            return Reply(f"Draft {row[0]} was already decided; nothing changed.", replace=True)
        return Reply(f"Discarded draft {row[0]}; the knowledge base is unchanged.", replace=True)

    # Member data ----------------------------------------------------------------------------

    async def export(guild: int, user_id: int) -> list[dict]:
        rows = await db.fetchall(
            "SELECT id, sku, status, author_id, decided_by, created_at, decided_at, text "
            "FROM product_drafts WHERE guild_id = ? AND (author_id = ? OR decided_by = ?) "
            "ORDER BY id", (guild, user_id, user_id))
        return [{"draft_id": r[0], "sku": r[1], "status": r[2], "asked_for": r[3] == user_id,
                 "decided": r[4] == user_id, "created_at": r[5], "decided_at": r[6],
                 "text": r[7]} for r in rows]

    async def unlink(guild: int, user_id: int) -> int:
        async with db.transaction() as conn:
            asked = await conn.execute("UPDATE product_drafts SET author_id = NULL "
                                       "WHERE guild_id = ? AND author_id = ?", (guild, user_id))
            decided = await conn.execute("UPDATE product_drafts SET decided_by = NULL "
                                         "WHERE guild_id = ? AND decided_by = ?", (guild, user_id))
            return asked.rowcount + decided.rowcount

    question = Option("question", OptionKind.STRING, "The question, as members ask it",
                      low=1, high=QUESTION_CHARS)
    answer = Option("answer", OptionKind.STRING, "The answer the bot gives", low=1,
                    high=ANSWER_CHARS)
    return Feature(
        name="knowledge",
        commands=(
            Command("import", "Import a catalog (.csv, .json) or FAQ (.md, .csv) file",
                    import_file, group="kb", access=MANAGE_SERVER, options=(
                        Option("file", OptionKind.ATTACHMENT, "The file, at most 2 MB"),
                        Option("replace", OptionKind.CHOICE,
                               "yes: also remove entries of its kinds the file no longer has",
                               required=False, choices=("yes", "no")))),
            Command("ask", "Ask the shop's FAQ and catalog a question", ask, private=False,
                    options=(Option("question", OptionKind.STRING, "Your question", low=1,
                                    high=QUESTION_CHARS),)),
            Command("add", "Add a question and its answer to the FAQ", faq_add, group="faq",
                    access=MODERATORS, options=(question, answer)),
            Command("edit", "Change the answer to an FAQ question", faq_edit, group="faq",
                    access=MODERATORS, options=(question, answer)),
            Command("remove", "Remove a question from the FAQ", faq_remove, group="faq",
                    access=MODERATORS, options=(question,)),
            Command("describe", "Draft a product description to approve", describe,
                    group="product", access=MODERATORS, options=(
                        Option("product", OptionKind.STRING, "The product's sku or name",
                               low=1, high=200),)),
        ),
        components=(ComponentRoute(APPROVE, approve, access=MODERATORS),
                    ComponentRoute(DISCARD, discard, access=MODERATORS)),
        data=DataHooks(covers=("product_drafts.author_id", "product_drafts.decided_by"),
                       export=export, delete=unlink),
    )


def _now() -> int:
    return int(time.time() * 1000)
