"""The console adapter, in process and as a piped `python -m bot console` run."""

import io
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest_asyncio

from bot.console import BOT_ID, CHANNELS, GUILD_ID, Console, member_id, run_console
from bot.runtime import start
from tests.bot.harness import ScriptedClassifier, settings

ROOT = Path(__file__).resolve().parents[2]


@pytest_asyncio.fixture
async def console_at(tmp_path, db, local_model):
    """``console_at(mods)``: a console over a started runtime (closed at teardown, except
    the database and model, which their fixtures own)."""
    runtimes = []

    async def make(mods=frozenset()):
        out = io.StringIO()
        console = Console(mods=mods, out=out, files_dir=tmp_path / "console")
        rt = await start(settings(DATA_DIR=str(tmp_path)), db, local_model, console.poster,
                         bot_user_id=BOT_ID, bot_name="bot", classifier=ScriptedClassifier())
        runtimes.append(rt)
        console.attach(rt)
        return console, out, rt

    yield make
    for rt in runtimes:
        rt.pipeline.close()
        await rt.features.stop()
        await rt.jobs.close()
        await rt.services.writer.close()


async def run_lines(console_at, lines, mods=frozenset()):
    console, out, rt = await console_at(mods)
    await run_console(console, stdin=io.StringIO("\n".join(lines) + "\n"))
    return out.getvalue().splitlines(), rt


async def test_members_chat_and_use_commands(console_at):
    lines, _ = await run_lines(console_at, [
        "ana: hello everyone",            # not addressed to the bot: no answer
        "ana: I'm a size M @bot",         # mention: answered, and the size is remembered
        "ana: /memory",
        "#support",
        "bob: /memory ana",               # not a moderator
        "mo: /memory ana",                # a moderator
        "ana: /forget",
        "ana: /memory",
        "ana: /dance",
        "#nowhere",
        "no colon here",
        "bot: pretending to be the bot",
    ], mods=frozenset({"mo"}))
    assert lines[0].startswith("[bot → ana (DM)] Hi! I keep the messages")  # once, first
    assert lines[1].startswith("[bot] ")
    # The answer is random text from the tiny model and may hold newlines: compare from
    # the first command's answer on.
    start = lines.index("[bot → ana] What I remember about you:")
    assert all(not line.startswith("[bot") for line in lines[2:start])
    assert lines[start:] == [
        "[bot → ana] What I remember about you:",
        "- size M",
        "Use /forget to clear it.",
        "[bot → bob] Only moderators can look at or clear another member's memory.",
        "[bot → mo] What I remember about ana:",
        "- size M",
        "[bot → ana] Done: I forgot 1 thing I remembered about you.",
        "[bot → ana] I don't remember anything about you yet.",
        ("[bot → ana] Unknown command /dance. Commands: /privacy statement, /privacy export, "
         "/privacy delete, /privacy facts, /privacy forget, /privacy opt-out, /privacy opt-in, "
         "/memory, /forget, /ask, /help."),
        "? no channel #nowhere; channels: #general, #support, #announcements, #mod-log, #dm",
        "? expected `name: text`, `#channel`, /help or /quit",
        "? bot is the bot's name; pick another member name",
    ]


async def test_messages_are_archived_in_their_channels_and_replies_follow_the_bot(console_at):
    _, runtime = await run_lines(console_at, [
        "#support",
        "ana: where is my order 1234? @bot",
        "ana: ^ thanks, and when will it ship?",  # a reply to the bot: answered, no mention
        "#dm",
        "ana: a private question",
    ])
    await runtime.services.writer.flush()
    rows = await runtime.db.fetchall(
        "SELECT guild_id, channel_id, author_id, reply_to_id, message_id FROM messages "
        "ORDER BY message_id")
    ana = member_id("ana")
    authors = [(r[0], r[1], r[2]) for r in rows]
    support = CHANNELS["support"]
    assert authors[:4] == [(GUILD_ID, support, ana), (GUILD_ID, support, BOT_ID),
                           (GUILD_ID, support, ana), (GUILD_ID, support, BOT_ID)]
    assert rows[2][3] == rows[1][4]  # the ^ line replies to the bot's answer
    assert authors[4][0] == 0 and authors[4][2] == ana  # DMs are stored under guild 0
    assert authors[5][2] == BOT_ID  # DMs are always answered
    facts = await runtime.db.fetchall("SELECT value FROM member_facts WHERE guild_id = ? AND "
                                      "user_id = ?", (GUILD_ID, ana))
    assert [f[0] for f in facts] == ["order #1234 (asked about it)"]


def run_cli(args, tmp_path, stdin, **env):
    environ = {k: v for k, v in os.environ.items() if k not in ("DISCORD_TOKEN", "MODEL_DIR")}
    environ |= {"PYTHONPATH": str(ROOT), "DATA_DIR": str(tmp_path / "data"),
                "MEMBER_COOLDOWN_S": "0", "MAX_NEW_TOKENS": "16"} | env
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, cwd=tmp_path,
                          env=environ, capture_output=True, timeout=120)


def test_piped_console_run_end_to_end(tmp_path, tiny_model_dir, tiny_sentiment_dir):
    huge = b"ana: " + b"the linen shirt " * 6000 + b"@bot\n"  # about 100 kB, and a flood
    stdin = (b"ana: hi @bot, I love linen\n"
             b"\xff\xfe\x00 binary noise\n"
             + huge +
             b"#support\n"
             b"bob: @bot \n"
             b"ana: /memory\n")
    result = run_cli(["console", "--model", str(tiny_model_dir)], tmp_path, stdin,
                     SENTIMENT_MODEL=str(tiny_sentiment_dir))
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode().splitlines()
    assert sum(line.startswith("[bot] ") for line in out) >= 2
    assert any(line.startswith("[server] ana's message in #general was deleted: the linen")
               for line in out), out  # automod's flood rule: nothing answers it, nothing keeps it
    assert "? expected `name: text`, `#channel`, /help or /quit" in out
    assert "[bot → ana] What I remember about you:" in out and "- loves linen" in out
    assert b"Traceback" not in result.stderr
    with sqlite3.connect(tmp_path / "data" / "bot.db") as conn:
        (members,), (answers,) = conn.execute(
            "SELECT count(*) FROM messages WHERE is_bot = 0 UNION ALL "
            "SELECT count(*) FROM messages WHERE is_bot = 1")
    assert members == 2 and answers >= 2


def test_without_a_subcommand_or_token_it_starts_the_console_and_says_how_to_connect(
        tmp_path, tiny_model_dir, tiny_sentiment_dir):
    result = run_cli([], tmp_path, b"", MODEL_DIR=str(tiny_model_dir),
                     SENTIMENT_MODEL=str(tiny_sentiment_dir))
    assert result.returncode == 0, result.stderr.decode()
    assert "Connect to Discord" in result.stderr.decode()


def test_configuration_errors_print_one_line_and_exit_2(tmp_path):
    result = run_cli(["console"], tmp_path, b"", MEMBER_COOLDOWN_S="soon")
    assert result.returncode == 2
    assert result.stderr.decode().strip().splitlines() == [
        "error: MEMBER_COOLDOWN_S: expected a number between 0 and 3600, got 'soon'"]


def test_migrate_and_backup_commands(tmp_path, monkeypatch, capsys):
    from bot.cli import main

    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.delenv("DISCORD_TOKEN", raising=False)
    db_path = tmp_path / "data" / "bot.db"
    assert main(["migrate", "--db", str(db_path)]) == 0
    assert "applied 1, 2, 3" in capsys.readouterr().out
    assert main(["migrate", "--db", str(db_path)]) == 0
    assert "already up to date" in capsys.readouterr().out
    assert main(["backup", str(tmp_path / "copy.db"), "--db", str(db_path)]) == 0
    with sqlite3.connect(tmp_path / "copy.db") as conn:
        assert conn.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] >= 1
    assert main(["backup", str(tmp_path / "copy.db"), "--db", str(tmp_path / "missing.db")]) == 2
    assert capsys.readouterr().err.startswith("error: no database at")
    assert main(["discord"]) == 2
    assert "DISCORD_TOKEN: not set" in capsys.readouterr().err
