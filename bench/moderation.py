"""Moderation benchmark: does automod flag what it should and leave the rest alone?

    python -m bench.moderation [--data FILE] [--show-errors]

Runs the default content rules (with the demo shop's domains, as a fresh guild that
imported the demo shop has them) over a labelled set of community messages, and, in the
same run, ``alt-profanity-check`` alone on the raw text (its own 0.5 cut-off). Prints one
JSON object: precision, recall and false-positive rate of "flagged" against the labels,
overall and per category and rule; the false-positive rate on benign messages that name
an identity group beside the other benign messages' (the unintended-bias check); and the
hard benign cases (Scunthorpe-style words, "killer deal", angry but fair complaints)
flagged.

Data lines: {"text", "label": "flag" | "ok", "category"}; categories used here are
toxic, spam, scam (flag) and benign, hard_benign, identity (ok). Each set was written by
a helper who did not see the rules. The default set, ``bench/data/moderation.jsonl``, and
``bench/data/moderation_heldout.jsonl`` are development sets: rules were written with
their misses in view. ``bench/data/moderation_heldout2.jsonl``, written after them by a
helper who saw neither the code nor the other sets, is the held-out set, only scored.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from bot.firstrun import DEMO_SHOP
from bot.kb import KnowledgeBase
from bot.moderation import toxicity
from bot.moderation.automod import Automod
from bot.moderation.store import RuleStore
from bot.store import Database

DATA = Path(__file__).resolve().parent / "data" / "moderation.jsonl"
GUILD = 1


def load(path: Path) -> list[dict]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            if row.get("label") not in ("flag", "ok") or not isinstance(row.get("text"), str):
                raise SystemExit(f"{path}:{number}: needs text and label flag|ok")
            rows.append(row)
    return rows


def rates(gold: list[bool], flagged: list[bool]) -> dict:
    tp = sum(g and f for g, f in zip(gold, flagged))
    fp = sum(f and not g for g, f in zip(gold, flagged))
    pos, neg = sum(gold), len(gold) - sum(gold)
    return {"precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "recall": round(tp / pos, 4) if pos else None,
            "false_positive_rate": round(fp / neg, 4) if neg else None,
            "flagged": tp + fp, "n": len(gold)}


async def default_rules():
    with tempfile.TemporaryDirectory() as tmp:
        db = await Database.open(Path(tmp) / "bench.db")
        kb = KnowledgeBase(db)
        for path in DEMO_SHOP:
            await kb.import_file(GUILD, path)
        rules = await RuleStore(db).load(GUILD)
        await db.close()
    return rules


def run(rows: list[dict]) -> tuple[dict, list]:
    automod = Automod(asyncio.run(default_rules()))
    texts = [r["text"] for r in rows]
    start = time.perf_counter()
    verdicts = automod.check_many(texts)
    seconds = time.perf_counter() - start
    baseline = [p >= 0.5 for p in toxicity.raw_scores(texts)]
    gold = [r["label"] == "flag" for r in rows]
    ours = [v.flagged for v in verdicts]
    categories = sorted({r.get("category", "") for r in rows})
    per_category = {}
    for c in categories:
        idx = [i for i, r in enumerate(rows) if r.get("category", "") == c]
        per_category[c] = {"n": len(idx), "ours_flagged": sum(ours[i] for i in idx),
                           "profanity_check_flagged": sum(baseline[i] for i in idx)}
    per_rule = {}
    for name in automod.rules:
        hit = [name in v.rules for v in verdicts]
        if any(hit):
            per_rule[name] = {"flagged": sum(hit), "true_positives": sum(h and g for h, g in zip(hit, gold)),
                              "false_positives": sum(h and not g for h, g in zip(hit, gold))}

    def fpr(cats: set[str], flags: list[bool]) -> float | None:
        idx = [i for i, r in enumerate(rows) if r.get("category") in cats]
        return round(sum(flags[i] for i in idx) / len(idx), 4) if idx else None

    report = {
        "ours": rates(gold, ours), "profanity_check_alone": rates(gold, baseline),
        "per_category": per_category, "per_rule": per_rule,
        "identity_false_positive_rate": {"ours": fpr({"identity"}, ours),
                                         "profanity_check_alone": fpr({"identity"}, baseline)},
        "other_benign_false_positive_rate": {"ours": fpr({"benign", "hard_benign"}, ours),
                                             "profanity_check_alone": fpr({"benign", "hard_benign"}, baseline)},
        "hard_benign_flagged": [r["text"] for r, f in zip(rows, ours) if f and r.get("category") == "hard_benign"],
        "toxicity_threshold": automod.rules["toxicity"].params["threshold"],
        "ms_per_message": round(1000 * seconds / max(1, len(rows)), 3),
    }
    errors = [{"text": r["text"], "category": r.get("category"), "label": r["label"], "rules": v.rules}
              for r, v, g in zip(rows, verdicts, gold) if v.flagged != g]
    return report, errors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.moderation", description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--show-errors", action="store_true", help="list each wrong verdict on stderr")
    args = ap.parse_args(argv)
    report, errors = run(load(args.data))
    if args.show_errors:
        for e in errors:
            print(json.dumps(e, ensure_ascii=False), file=sys.stderr)
    print(json.dumps(report | {"data": str(args.data)}, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
