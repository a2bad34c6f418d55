"""Grounded-answer benchmark: are members' factual questions answered right, or declined?

    python -m bench.grounding                       # the demo shop, the default model
    python -m bench.grounding --model none          # retrieval alone (no model at all)
    python -m bench.grounding --catalog C.csv --faq F.md --questions Q.jsonl [--answers-out A.jsonl]

A fresh database gets the catalog and FAQ (the demo shop by default); each question is
then posted as a new member's message in an answer channel and goes through the bot's own
pipeline (archive, memory, chat with its grounder), exactly as a message on Discord does;
the answer is what the member would see. Prints one JSON object:

  * hit_at_3: answerable questions whose source entry is among the three best found;
  * correct_fact_rate: answerable questions whose answer holds every expected fact
    (case-insensitive; ``a|b`` accepts either), declines counting as wrong;
  * correct_decline_rate: unanswerable questions the bot declined;
  * false_decline_rate: answerable questions it declined;
  * chat_rate: unanswerable questions it took for small talk (sent to the model);
  * n, n_answerable, n_unanswerable, seconds.

Question lines: {"question", "expected": [...], "source": "faq:<title prefix>" | "<sku>"}
or {"question", "answerable": false}. ``--model none`` puts a model that writes nothing
behind small talk, so every figure is the knowledge base's alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from bot.config import load_settings
from bot.core.feature import load_features
from bot.core.messages import Incoming
from bot.core.posting import Posted
from bot.grounding.compose import DONT_KNOW, DONT_KNOW_ZH
from bot.kb import KnowledgeBase
from bot.runtime import make_services
from bot.store import Database

DEMO = Path(__file__).resolve().parents[1] / "bot" / "demo"
QUESTIONS = Path(__file__).resolve().parent / "data" / "demo_questions.jsonl"
GUILD, CHANNEL, BOT = 1, 10, 2
_ids = itertools.count(1_000_000)


class Sent:
    def __init__(self, text: str) -> None:
        self.id = next(_ids)
        self.text = text

    async def edit(self, text: str) -> None:
        self.text = text

    async def delete(self) -> None:
        self.text = ""


class Channel:
    """Where one question's answer goes: collects what the bot posts."""

    def __init__(self) -> None:
        self.sent: list[Sent] = []

    def can_send(self) -> bool:
        return True

    @contextlib.asynccontextmanager
    async def typing(self):
        yield

    async def send(self, text: str, *, reply: bool) -> Sent:
        self.sent.append(Sent(text))
        return self.sent[-1]

    def text(self) -> str:
        return "\n".join(s.text for s in self.sent if s.text)


class Poster:
    """Staff pings and other posts: counted, not sent anywhere."""

    def __init__(self) -> None:
        self.posts = 0

    async def send(self, target, reply) -> Posted:
        self.posts += 1
        return Posted(next(_ids), CHANNEL, BOT, reply.text, 0)


class Silent:
    """``--model none``: a model that writes nothing, so small talk gets the empty note."""

    context_window = 2048

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1

    def count_prompt(self, messages: Sequence[tuple[str, str]]) -> int:
        return sum(self.count_tokens(t) + 4 for _, t in messages)

    async def stream(self, request) -> AsyncIterator[str]:
        return
        yield

    async def complete(self, request) -> str:
        return ""

    async def close(self, drain_timeout: float = 10.0) -> None:
        return None


def load_questions(path: Path) -> list[dict]:
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise SystemExit(f"{path}:{number}: not JSON ({exc.msg})") from None
            if "question" not in item or (item.get("answerable", True) and "source" not in item):
                raise SystemExit(f"{path}:{number}: needs question and source (or answerable: false)")
            out.append(item)
    return out


def cited(source: str, names: Sequence[str]) -> bool:
    if source.startswith("faq:"):
        prefix = source[4:].strip().casefold()
        return any(n.casefold().startswith(prefix) for n in names)
    return source in names


def has_facts(answer: str, expected: Sequence[str]) -> bool:
    text = answer.casefold()
    return all(any(alt.strip().casefold() in text for alt in item.split("|")) for item in expected)


async def run(args: argparse.Namespace) -> dict:
    from bot.model import LocalModel

    model = Silent() if args.model == "none" else LocalModel.load(_model_dir(args.model))
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database.open(Path(tmp) / "bench.db")
        kb = KnowledgeBase(db)
        for path in (args.catalog, args.faq):
            await kb.import_file(GUILD, path)
        settings = load_settings(env_file=None, environ={
            "MEMBER_COOLDOWN_S": "0", "ANSWER_CHANNELS": "all", "MAX_NEW_TOKENS": "60",
            "MODEL_TRUSTED": "true" if args.trusted else "false"})
        services = make_services(settings, db, model, Poster(), bot_user_id=BOT, bot_name="bot")
        features = load_features(["archive", "memory", "chat"], services)
        chat = next(f for f in features.features if f.name == "chat")
        outcomes: dict[str, object] = {}
        grounder = _grounder(services)
        grounder.observer = lambda question, outcome: outcomes.__setitem__(question, outcome)
        rows, start = [], time.perf_counter()
        questions = load_questions(args.questions)
        for i, item in enumerate(questions):
            out = Channel()
            msg = Incoming(message_id=next(_ids), guild_id=GUILD, channel_id=CHANNEL,
                           channel_name="support", author_id=10_000 + i, author_name=f"member{i}",
                           content=item["question"], created_at=int(time.time() * 1000))
            await services.pipeline.on_message(msg, out)
            answer = out.text()
            outcome = outcomes.get(msg.content)
            rows.append({"item": item, "answer": answer, "declined": DONT_KNOW in answer or DONT_KNOW_ZH in answer,
                         "sources": list(getattr(outcome, "sources", ())),
                         "ranked": list(getattr(outcome, "ranked", ())),
                         "kind": getattr(outcome, "kind", None)})
            print(f"\r{i + 1}/{len(questions)} questions", end="", file=sys.stderr, flush=True)
        print(file=sys.stderr)
        seconds = time.perf_counter() - start
        services.pipeline.close()
        await features.stop()
        await services.writer.close()
        await db.close()
    await model.close()
    if args.answers_out:
        with open(args.answers_out, "w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps({"question": row["item"]["question"], "answer": row["answer"],
                                    "sources": row["sources"], "declined": row["declined"]},
                                   ensure_ascii=False) + "\n")
    return score(rows, seconds) | {"model": args.model, "trusted": args.trusted,
                                   "questions": str(args.questions), "chat_feature": chat.name}


def _grounder(services):
    """The grounder inside the chat feature just loaded (to record its decisions)."""
    for hook in services.pipeline._hooks:  # noqa: SLF001 (observation only)
        owner = getattr(hook[3], "__self__", None)
        if owner is not None and hasattr(owner, "_grounder"):
            return owner._grounder
    raise RuntimeError("the chat feature has no grounder")


def score(rows: list[dict], seconds: float) -> dict:
    answerable = [r for r in rows if r["item"].get("answerable", True)]
    unanswerable = [r for r in rows if not r["item"].get("answerable", True)]
    hit = sum(cited(r["item"]["source"], r["ranked"]) for r in answerable)
    right = sum(not r["declined"] and has_facts(r["answer"], r["item"].get("expected", []))
                for r in answerable)
    false_declines = sum(r["declined"] for r in answerable)
    declines = sum(r["declined"] for r in unanswerable)
    chats = sum(r["kind"] == "chat" for r in unanswerable)

    def rate(k: int, n: int) -> float | None:
        return round(k / n, 4) if n else None

    return {"hit_at_3": rate(hit, len(answerable)), "correct_fact_rate": rate(right, len(answerable)),
            "correct_decline_rate": rate(declines, len(unanswerable)),
            "false_decline_rate": rate(false_declines, len(answerable)),
            "chat_rate": rate(chats, len(unanswerable)), "n": len(rows),
            "n_answerable": len(answerable), "n_unanswerable": len(unanswerable),
            "seconds": round(seconds, 1)}


def _model_dir(choice: str) -> Path:
    from bot.firstrun import resolve_model_dir

    if choice == "default":
        return resolve_model_dir(None, None, load_settings(env_file=None, environ={}).data_dir)
    return Path(choice)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.grounding", description=__doc__.split("\n\n")[0])
    ap.add_argument("--catalog", type=Path, default=DEMO / "catalog.csv")
    ap.add_argument("--faq", type=Path, default=DEMO / "faq.md")
    ap.add_argument("--questions", type=Path, default=QUESTIONS)
    ap.add_argument("--answers-out", type=Path, metavar="FILE")
    ap.add_argument("--model", default="default", metavar="DIR",
                    help="a model folder, 'default' (the bot's default model) or 'none' (retrieval alone)")
    ap.add_argument("--trusted", action="store_true",
                    help="treat the model as trusted (MODEL_TRUSTED): it words answers, then they are fact-checked")
    args = ap.parse_args(argv)
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
