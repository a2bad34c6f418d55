"""The declarations against both adapters, enumerated so that no command can skip a check:
every command is in the Discord tree and in the console's /help for a caller allowed to
run it; every restricted command is refused to a plain member in both; structured
replies render in both; a button pressed after a restart reaches its handler."""

import io
import json
import re
from pathlib import Path
from types import SimpleNamespace

import discord
import pytest_asyncio

from bot.console import BOT_ID, Console, member_id, run_console
from bot.core.commands import MODERATORS, Command, MessageCommand, Option, OptionKind
from bot.core.feature import Feature, Features
from bot.core.jobs import Jobs
from bot.core.pipeline import Pipeline
from bot.core.replies import Button, Embed, Field, File, Reply, Select, SelectOption, custom_id
from bot.discord_app.app import ShopBot
from bot.discord_app.commands import build_commands, context_menu, run_interaction
from bot.discord_app.components import Routed
from bot.discord_app.render import send_kwargs
from bot.runtime import Runtime, start
from tests.bot.discord_fakes import (answer_of, fake_channel, fake_interaction, fake_message,
                                    fake_user, no_pings)
from tests.bot.harness import ScriptedClassifier, ScriptedModel, settings

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
SAMPLE_VALUES = {OptionKind.STRING: "hello", OptionKind.INTEGER: 1, OptionKind.CHOICE: None,
                 OptionKind.DURATION: "1h", OptionKind.DATETIME: "2030-01-01 10:00"}


@pytest_asyncio.fixture
async def bot_runtime(tmp_path, db):
    """The default features, started as the runtime starts them, with a console attached.
    The model is scripted (and says nothing): these tests drive commands, buttons and
    automod, and starting an engine per test would cost seconds each."""
    out = io.StringIO()
    console = Console(mods=frozenset({"mo"}), out=out, files_dir=tmp_path / "console")
    rt = await start(settings(DATA_DIR=str(tmp_path)), db, ScriptedModel(), console.poster,
                     bot_user_id=BOT_ID, bot_name="bot", members=console.members,
                     classifier=ScriptedClassifier())
    console.attach(rt)
    yield rt, console, out
    rt.pipeline.close()
    await rt.features.stop()
    await rt.jobs.close()
    await rt.services.writer.close()


FIRST_NOTE = re.compile(r"^\[bot → [^\]]+ \(DM\)\] Hi! I keep the messages")


async def console_lines(console, out, lines, *, first_notes=False):
    """The console's output for ``lines``. The privacy feature's one-time note to each
    member whose message is first stored is left out unless ``first_notes``: most tests
    are about something else (tests/bot/features/test_privacy.py checks it)."""
    out.seek(0)
    out.truncate()
    await run_console(console, stdin=io.StringIO("\n".join(lines) + "\n"))
    return [line for line in out.getvalue().splitlines() if first_notes or not FIRST_NOTE.match(line)]


def discord_commands(features):
    """Every leaf app command, by path, with the top-level node that carries its defaults."""
    leaves = {}
    for node in build_commands(features, run_interaction):
        children = (node.walk_commands() if isinstance(node, discord.app_commands.Group) else [node])
        for child in children:
            if isinstance(child, discord.app_commands.Command):
                leaves[child.qualified_name] = (child, node)
    return leaves


async def test_every_declared_command_is_in_both_adapters(bot_runtime):
    rt, console, out = bot_runtime
    declared = {c.path for c in rt.features.commands}
    assert {"memory", "forget", "settings show", "mod modlog channel"} <= declared
    assert set(discord_commands(rt.features)) == declared
    lines = await console_lines(console, out, ["mo: /help", "bob: /help"])
    split = lines.index("[bot → bob] Commands you can use here:")
    for who, shown in (("mo", lines[1:split]), ("bob", lines[split + 1:])):
        listed = {line.split("  ")[0] for line in shown}
        allowed = [c for c in rt.features.commands if who == "mo" or not c.access.restricted]
        assert listed == {c.usage() for c in allowed}, who


async def test_every_restricted_command_is_refused_to_a_member_in_both_adapters(bot_runtime):
    rt, console, out = bot_runtime
    restricted = [c for c in rt.features.commands if c.access.restricted]
    assert restricted, "no restricted command to check"
    leaves = discord_commands(rt.features)
    for command in restricted:
        need = command.access.describe()
        lines = await console_lines(console, out, [f"bob: /{command.path}"])
        assert lines == [f"[bot → bob] You need {need} to use /{command.path}."], lines

        app, top = leaves[command.path]
        assert top.default_permissions is not None and top.default_permissions.value != 0
        interaction = fake_interaction(fake_user("bob"), 5)
        values = {o.name: SAMPLE_VALUES.get(o.kind) or (o.choices[0] if o.choices else None)
                  for o in command.options if o.required}
        await app.callback(interaction, **values)
        assert answer_of(interaction) == (f"You need {need} to use /{command.path}.", True)
        interaction.response.defer.assert_not_awaited()  # refused before anything ran


async def test_a_bad_argument_is_one_line_in_both_adapters(bot_runtime):
    rt, console, out = bot_runtime
    lines = await console_lines(console, out, ["mo: /memory member=zed",
                                               "mo: /settings persona text=\"\"",
                                               "mo: /settings persona \"unclosed",
                                               "mo: /memory mo extra",
                                               "mo: /memory colour=red",
                                               "mo: /mod modlog channel channel=#mod-log"])
    assert lines == ["[bot → mo] member: no member called 'zed' here",
                     "[bot → mo] text: the length must be at least 1, got 0",
                     "[bot → mo] Cannot read that command: No closing quotation.",
                     "[bot → mo] extra: /memory takes no more arguments (usage: /memory [member=…])",
                     "[bot → mo] colour: /memory has no such option (usage: /memory [member=…])",
                     "[bot → mo] Moderation actions and reports will be logged in #mod-log."]
    app, _ = discord_commands(rt.features)["settings persona"]
    interaction = fake_interaction(fake_user("mo"), 5,
                                   permissions=discord.Permissions(manage_guild=True))
    await app.callback(interaction, text="")
    assert answer_of(interaction) == ("text: the length must be at least 1, got 0", True)


def sample_feature(presses):
    async def report(inv):
        return Reply(
            "Weekly report", private=False,
            embeds=(Embed(title="Mood", description="Mostly happy", colour=0x2ECC71,
                          fields=(Field("positive", "71%"), Field("negative", "9%"))),),
            files=(File("mood.png", PNG), File("report.json", json.dumps({"ok": 1}).encode())),
            components=(Button("Approve", custom_id("sample.approve", "42"), style="success"),
                        Select(custom_id("sample.pick", "42"), (SelectOption("Size S", "s"),
                                                                SelectOption("Size M", "m")))))

    async def pressed(press):
        presses.append(press)
        return Reply(f"{press.route} {press.data} {','.join(press.values)}".strip())

    from bot.core.replies import ComponentRoute

    return Feature("sample",
                   commands=(Command("report", "A structured reply", report, options=(
                       Option("week", OptionKind.INTEGER, "Week", required=False, low=1, high=53),)),),
                   components=(ComponentRoute("sample.approve", pressed),
                               ComponentRoute("sample.pick", pressed)))


async def test_a_structured_reply_renders_in_the_console_and_its_choices_press(tmp_path, db):
    presses = []
    out = io.StringIO()
    console = Console(out=out, files_dir=tmp_path / "console")
    console.attach(SimpleNamespace(features=Features([sample_feature(presses)])))
    lines = await console_lines(console, out, ["ana: /report", "ana: !press 1", "ana: !press 3",
                                               "ana: !press 9"])
    assert lines[:4] == ["[bot] Weekly report", "┃ Mood", "┃ Mostly happy", "┃ positive: 71%"]
    saved = [line for line in lines if line.startswith("(file saved: ")]
    assert len(saved) == 2
    png = saved[0].removeprefix("(file saved: ").removesuffix(")")
    assert Path(png).read_bytes() == PNG
    assert "[1] Approve  [2] Size S  [3] Size M   (press with: name: !press N)" in lines
    assert "[bot → ana] sample.approve 42" in lines and "[bot → ana] sample.pick 42 m" in lines
    assert lines[-1] == "? no choice [9] on screen"
    assert [p.caller.user_id for p in presses] == [member_id("ana")] * 2


def test_a_structured_reply_renders_for_discord_without_pings():
    rendered = send_kwargs(Reply("Weekly report", embeds=(Embed(title="Mood", fields=(
        Field("positive", "71%"),)),), files=(File("mood.png", PNG),), components=(
        Button("Approve", custom_id("sample.approve", "42")),)))
    assert rendered["content"] == "Weekly report" and no_pings(rendered["allowed_mentions"])
    (embed,) = rendered["embeds"]
    assert embed.title == "Mood" and embed.fields[0].name == "positive"
    assert rendered["files"][0].filename == "mood.png"
    view = rendered["view"]
    assert view.timeout is None and view.is_persistent()
    assert [item.custom_id for item in view.children] == ["sample.approve:42"]
    assert all(isinstance(item, Routed) for item in view.children)
    role = send_kwargs(Reply("Sale!", ping_role=77))["allowed_mentions"]
    assert role.everyone is False and role.users is False and [r.id for r in role.roles] == [77]


async def test_a_button_pressed_after_a_restart_reaches_its_handler(tmp_path, tiny_model_dir):
    """The bot that sent the button is gone; a new process gets the press. discord.py
    matches the id against the dynamic items the new bot registered and builds the item
    from the id alone (ViewStore.schedule_dynamic_item_call), then calls it back."""
    presses = []
    sent = send_kwargs(Reply("Draft", components=(Button("Approve", custom_id("sample.approve", "42")),)))
    button_id = sent["view"].children[0].custom_id

    restarted = ShopBot(settings(DATABASE_PATH=str(tmp_path / "bot.db")), tiny_model_dir)
    restarted.add_dynamic_items(Routed)  # what setup_hook does first
    restarted.runtime = Runtime(services=None, features=Features([sample_feature(presses)]),
                                jobs=Jobs())
    patterns = restarted._connection._view_store._dynamic_items
    pattern, factory = next((p, f) for p, f in patterns.items() if p.fullmatch(button_id))
    interaction = fake_interaction(fake_user("mo"), 5, client=restarted)
    base = discord.ui.Button(label="Approve", custom_id=button_id)
    item = await factory.from_custom_id(interaction, base, pattern.fullmatch(button_id))
    await item.callback(interaction)
    assert [(p.route, p.data) for p in presses] == [("sample.approve", "42")]
    interaction.response.defer.assert_awaited_once_with()  # acknowledged before the handler ran
    assert answer_of(interaction) == ("sample.approve 42", True)
    restarted.runtime = None
    late = fake_interaction(fake_user("mo"), 5, client=restarted)
    await item.callback(late)  # while shutting down: a note, never "interaction failed"
    assert answer_of(late)[1] is True and "restarting" in answer_of(late)[0]


async def test_a_message_command_runs_and_is_refused_the_same_in_both_adapters(tmp_path):
    seen = []

    async def quote(caller, message):
        seen.append((caller.user_id, message.author_id, message.content))
        return Reply(f"quoted {message.content}")

    features = Features([Feature("quotes", message_commands=(
        MessageCommand("Quote this", quote),
        MessageCommand("Pin for staff", quote, access=MODERATORS)))])
    out = io.StringIO()
    console = Console(mods=frozenset({"mo"}), out=out, files_dir=tmp_path / "console")

    async def never(msg):
        return False

    console.attach(SimpleNamespace(features=features, pipeline=Pipeline(never)))
    lines = await console_lines(console, out, [
        "ana: nice hoodie", "bob: !on @ana Quote this", "bob: !on @ana Pin for staff",
        "mo: !on @ana pin for staff", "bob: !on @zed Quote this", "bob: !on @ana Dance"])
    refusal = "You need the Timeout Members or Manage Server permission to use 'Pin for staff'."
    assert lines == ["[bot → bob] quoted nice hoodie", f"[bot → bob] {refusal}",
                     "[bot → mo] quoted nice hoodie", "? no message by zed in #general",
                     "? no message command 'Dance'; there are: Quote this, Pin for staff"]
    assert seen[0][1:] == (member_id("ana"), "nice hoodie")

    menus = {c.name: context_menu(c) for c in features.message_commands.values()}
    assert menus["Pin for staff"].default_permissions.moderate_members
    assert menus["Quote this"].default_permissions is None and menus["Quote this"].guild_only
    message = fake_message("nice hoodie", author=fake_user("ana"), channel=fake_channel(),
                           guild=SimpleNamespace(id=5))
    for name, expected in (("Quote this", "quoted nice hoodie"), ("Pin for staff", refusal)):
        interaction = fake_interaction(fake_user("bob"), 5)
        await menus[name].callback(interaction, message)
        assert answer_of(interaction) == (expected, True)
    assert seen[-1][1:] == (message.author.id, "nice hoodie")
