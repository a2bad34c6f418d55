"""The knowledge feature through the real dispatch, over a real database: uploads imported
(or refused whole), who may run what, the FAQ kept from Discord and answered by /ask, the
honest decline offering the configured staff, and product drafts from the model that only
reach the knowledge base when a moderator approves them."""

from types import SimpleNamespace

import pytest
import pytest_asyncio

from bot.config import DEFAULT_FEATURES
from bot.core.commands import AttachmentRef, Caller, ChannelRef, RoleRef
from bot.core.dispatch import press, run_command
from bot.core.feature import load_features
from bot.features.knowledge import APPROVE, DISCARD, MAX_UPLOAD_BYTES
from bot.grounding.answerer import source_of
from bot.grounding.compose import DONT_KNOW
from bot.grounding.facts import unsupported
from bot.kb import FAQ, PRODUCT, KnowledgeBase
from bot.runtime import make_services
from bot.store import ArchivedMessage
from tests.bot.harness import BOT, RecordingPoster, ScriptedModel, settings
from tests.bot.recorder import next_id

GUILD, CHANNEL = 100, 7
OWNER = Caller(10, "owner", GUILD, CHANNEL, frozenset({"manage_guild"}))
MOD = Caller(11, "mo", GUILD, CHANNEL, frozenset({"moderate_members"}))
MEMBER = Caller(42, "ana", GUILD, CHANNEL)
HEADER = "sku,name,category,price,currency,in_stock,attributes,description,url\n"
CATALOG = (HEADER
           + "S-1,Wool socks,socks,12,USD,true,,,\n"
           + 'JP-102,Meadow Linen Dress,dresses,128,USD,true,"material: washed linen; length: midi",'
             "A midi dress with pockets and a tie waist.,\n")


def upload(name, data, size=None):
    reads = []

    async def read():
        reads.append(name)
        return data

    return AttachmentRef(name, len(data) if size is None else size, read), reads


async def started(db, model, features=DEFAULT_FEATURES):
    services = make_services(settings(), db, model, RecordingPoster(), bot_user_id=BOT,
                             bot_name="bot")
    loaded = load_features(features, services)

    async def run(caller, path, **raw):
        return await run_command(loaded.command(path), caller, raw)

    async def close():
        services.pipeline.close()
        await loaded.stop()
        await services.writer.close()

    return SimpleNamespace(services=services, features=loaded, run=run, close=close,
                           kb=KnowledgeBase(db), poster=services.poster)


@pytest_asyncio.fixture
async def bot(db):
    """The default features over a scripted model that says nothing: these tests drive the
    knowledge commands, which answer from the knowledge base (starting an engine per test
    would cost seconds each)."""
    shop = await started(db, ScriptedModel())
    yield shop
    await shop.close()


async def import_catalog(bot):
    file, _ = upload("catalog.csv", CATALOG.encode())
    return await bot.run(OWNER, "kb import", file=file)


async def test_an_uploaded_catalog_is_imported_and_a_second_upload_changes_nothing(bot):
    assert (await import_catalog(bot)).text == "Imported catalog.csv: 2 added, 0 updated, 0 unchanged."
    assert (await import_catalog(bot)).text == "Imported catalog.csv: 0 added, 0 updated, 2 unchanged."
    faq, _ = upload("faq.md", b"## Do you ship to Norway?\n\nYes, in about a week.\n")
    assert (await bot.run(OWNER, "kb import", file=faq, replace="yes")).text == \
        "Imported faq.md: 1 added, 0 updated, 0 unchanged, 0 removed."
    assert (await bot.kb.listing(GUILD)).counts == {"product": 2, "faq": 1, "about": 0}


async def test_a_bad_row_is_reported_by_line_and_nothing_is_imported(bot):
    file, _ = upload("catalog.csv", (CATALOG + "S-3,Cap,hats,$9,USD,maybe,,,\n").encode())
    reply = await bot.run(OWNER, "kb import", file=file)
    assert reply.text.startswith("catalog.csv: 2 problems, nothing imported: line 4: price '$9'")
    assert "line 4: in_stock 'maybe' is not true or false" in reply.text
    assert "\n" not in reply.text and reply.private is True
    assert (await bot.kb.listing(GUILD)).entries == []


async def test_a_file_over_2_mb_is_refused_before_it_is_read(bot):
    file, reads = upload("catalog.csv", b"", size=MAX_UPLOAD_BYTES + 1)
    reply = await bot.run(OWNER, "kb import", file=file)
    assert "at most 2 MB" in reply.text and reads == []
    unknown, _ = upload("catalog.xlsx", b"PK")
    assert "unknown file type '.xlsx'" in (await bot.run(OWNER, "kb import", file=unknown)).text


async def test_members_and_moderators_are_refused_what_they_may_not_run(bot):
    file, reads = upload("catalog.csv", CATALOG.encode())
    for caller in (MEMBER, MOD):  # Timeout Members is not Manage Server
        reply = await bot.run(caller, "kb import", file=file)
        assert reply.text == "You need the Manage Server permission to use /kb import."
        assert (await bot.run(caller, "settings staff")).text.startswith("You need the Manage Server")
    assert reads == []
    moderators = "You need the Timeout Members or Manage Server permission to use"
    for path, raw in (("faq add", {"question": "q?", "answer": "a"}),
                      ("faq edit", {"question": "q?", "answer": "a"}),
                      ("faq remove", {"question": "q?"}), ("product describe", {"product": "S-1"})):
        assert (await bot.run(MEMBER, path, **raw)).text == f"{moderators} /{path}."
    assert (await bot.kb.listing(GUILD)).entries == []


async def test_faq_add_edit_remove_and_ask_finds_the_current_answer(bot):
    question = "Can I pick up my order at the studio?"
    added = await bot.run(MOD, "faq add", question=question, answer="Yes, on Saturdays.")
    assert added.text == f"Added to the FAQ: **{question}**"
    again = await bot.run(MOD, "faq add", question="can i pick up my order at the studio",
                          answer="No.")
    assert "use /faq edit" in again.text
    asked = await bot.run(MEMBER, "ask", question="can I pick up my order at your studio?")
    assert asked.private is False and "Yes, on Saturdays." in asked.text

    edited = await bot.run(MOD, "faq edit", question="Can I pick up my order at the studio",
                           answer="Yes, on Saturdays between 10 and 14.")
    assert edited.text.startswith("Updated the FAQ")
    stored = await bot.kb.get(GUILD, FAQ, "can i pick up my order at the studio")
    assert stored.entry.body == "Yes, on Saturdays between 10 and 14." and stored.source == "/faq edit"
    asked = await bot.run(MEMBER, "ask", question="can I pick up my order at your studio?")
    assert "between 10 and 14" in asked.text

    removed = await bot.run(MOD, "faq remove", question="can I pick up my order at the studio?")
    assert removed.text.startswith("Removed from the FAQ")
    asked = await bot.run(MEMBER, "ask", question="can I pick up my order at your studio?")
    assert DONT_KNOW in asked.text and "Saturdays" not in asked.text
    for path in ("faq edit", "faq remove"):
        raw = {"question": question} | ({"answer": "x"} if path == "faq edit" else {})
        assert "no such question" in (await bot.run(MOD, path, **raw)).text
    assert (await bot.kb.listing(GUILD)).entries == []


async def test_ask_declines_with_the_configured_staff_and_pings_only_when_allowed(bot):
    plain = await bot.run(MEMBER, "ask", question="what is your phone number?")
    assert DONT_KNOW in plain.text and "ask one of the moderators" in plain.text

    set_ = await bot.run(OWNER, "settings staff", role=RoleRef(77, "team"),
                         channel=ChannelRef(8, "help"))
    assert "<@&77>" in set_.text and "<#8>" in set_.text and "named, not pinged" in set_.text
    declined = await bot.run(MEMBER, "ask", question="what is your phone number?")
    assert "The team (<@&77>) can help you in <#8>." in declined.text
    assert declined.private is False and declined.ping_role is None
    assert bot.poster.calls == []

    await bot.run(OWNER, "settings staff", role=RoleRef(77, "team"), channel=ChannelRef(8, "help"),
                  ping="yes")
    declined = await bot.run(MEMBER, "ask", question="what is your phone number?")
    assert "I've asked the team (<@&77>)" in declined.text
    (call,) = bot.poster.calls
    assert call[1].channel_id == 8 and call[2].ping_role == 77 and "phone number" in call[2].text


async def test_settings_staff_sets_shows_and_clears(bot, db):
    refused = await bot.run(OWNER, "settings staff", ping="yes")
    assert refused.text.startswith("ping: choose the role")
    reply = await bot.run(OWNER, "settings staff", role=RoleRef(77, "team"), ping="yes")
    assert "also ping <@&77> in the channel the question was asked in" in reply.text
    staff = await bot.services.guilds.staff(GUILD)
    assert (staff.role_id, staff.channel_id, staff.ping) == (77, None, True)
    shown = (await bot.run(OWNER, "settings show")).embeds[0].fields
    assert ("When the bot cannot answer", "<@&77>, pinged") in [(f.name, f.value) for f in shown]

    cleared = await bot.run(OWNER, "settings staff")
    assert "ask one of the moderators" in cleared.text
    staff = await bot.services.guilds.staff(GUILD)
    assert (staff.role_id, staff.channel_id, staff.ping) == (None, None, False)
    shown = (await bot.run(OWNER, "settings show")).embeds[0].fields
    assert any(f.value.startswith("not set") for f in shown)


async def archive_said(bot, *texts):
    for text in texts:
        await bot.services.archive.add(ArchivedMessage(
            message_id=next_id(), guild_id=GUILD, channel_id=CHANNEL, author_id=43,
            author_name="bo", content=text, created_at=1))


def buttons(reply):
    return {b.label: b.custom_id for b in reply.components}


async def test_a_drafted_description_checks_out_and_approve_writes_it(bot, db):
    await import_catalog(bot)
    await archive_said(bot, "the wool socks are so warm <@42>", "my Wool Socks shrank a bit")
    reply = await bot.run(MOD, "product describe", product="s-1")  # sku in any case
    assert reply.private is True and reply.text.startswith("Draft description for **Wool socks** (S-1)")
    assert "2 member comments" in reply.text
    ids = buttons(reply)
    assert set(ids) == {"Approve", "Discard"} and ids["Approve"].startswith(f"{APPROVE}:")
    (text,) = [r[0] for r in await db.fetchall("SELECT text FROM product_drafts WHERE status = 'pending'")]
    stored = await bot.kb.get(GUILD, PRODUCT, "S-1")
    assert unsupported(text, [source_of(stored)]) == []  # the model's, or the fallback
    assert reply.embeds[0].description == text

    refused = await press(bot.features, MEMBER, ids["Approve"])
    assert refused.text == "You need the Timeout Members or Manage Server permission to use this button."
    done = await press(bot.features, MOD, ids["Approve"])
    assert done.replace is True and done.components == () and done.text.startswith("Approved")
    assert (await bot.kb.get(GUILD, PRODUCT, "S-1")).entry.body == text
    again = await press(bot.features, OWNER, ids["Discard"])
    assert again.replace is True and "already approved" in again.text
    assert (await bot.kb.get(GUILD, PRODUCT, "S-1")).entry.body == text
    row = await db.fetchone("SELECT status, author_id, decided_by FROM product_drafts")
    assert tuple(row) == ("approved", MOD.user_id, MOD.user_id)


async def test_discard_leaves_the_knowledge_base_and_a_second_press_is_refused(bot, db):
    await import_catalog(bot)
    before = await bot.kb.get(GUILD, PRODUCT, "JP-102")
    reply = await bot.run(MOD, "product describe", product="meadow dress")  # by search
    assert "**Meadow Linen Dress** (JP-102)" in reply.text
    ids = buttons(reply)
    done = await press(bot.features, MOD, ids["Discard"])
    assert done.replace is True and done.text.startswith("Discarded")
    for route in ("Approve", "Discard"):
        assert "already discarded" in (await press(bot.features, OWNER, ids[route])).text
    assert await bot.kb.get(GUILD, PRODUCT, "JP-102") == before
    assert "No product matches" in (await bot.run(MOD, "product describe", product="zzz")).text
    assert "no longer exists" in (await press(bot.features, MOD, f"{DISCARD}:999")).text


@pytest.mark.parametrize("answers, used", [
    (["Members love these warm socks, at $15 a pair.",
      "Warm wool socks that members love, though one found they shrank a bit."], 1),
    (["Only $9 today!", "In stock in 40 colours."], None),
])
async def test_a_draft_that_fails_the_fact_check_is_retried_once_then_replaced(db, answers, used):
    model = ScriptedModel(*answers)
    shop = await started(db, model, ("archive", "knowledge"))
    try:
        await import_catalog(shop)
        await archive_said(shop, "<@42> the Wool socks are so warm", "wool socks shrank in the wash")
        reply = await shop.run(MOD, "product describe", product="S-1")
        assert len(model.requests) == 2
        prompt = "\n".join(text for _, text in model.requests[0].messages)
        assert "Price: $12" in prompt and "- wool socks shrank in the wash" in prompt
        assert "<@42>" not in prompt and "bo" not in prompt.split()
        assert "not listed" in model.requests[1].messages[-1][1]  # the retry is told why
        text = reply.embeds[0].description
        if used is not None:
            assert text == answers[used] and "could not be used" not in reply.text
        else:
            assert text == "Wool socks." and "could not be used (it states number '40'" in reply.text
    finally:
        await shop.close()


async def test_a_drafts_members_are_exported_and_unlinked_on_request(db):
    shop = await started(db, ScriptedModel("Warm socks."), ("archive", "knowledge"))
    try:
        await import_catalog(shop)
        ids = buttons(await shop.run(MOD, "product describe", product="S-1"))
        await press(shop.features, OWNER, ids["Approve"])
        (mine,) = (await shop.features.export_member(GUILD, MOD.user_id))["knowledge"]
        assert mine["asked_for"] and not mine["decided"] and mine["text"] == "Warm socks."
        assert (await shop.features.delete_member(GUILD, OWNER.user_id))["knowledge"] == 1
        row = await db.fetchone("SELECT author_id, decided_by, status, text FROM product_drafts")
        assert tuple(row) == (MOD.user_id, None, "approved", "Warm socks.")
    finally:
        await shop.close()
