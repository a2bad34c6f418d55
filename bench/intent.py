"""Intent benchmark: the documented rules (``bot/insights/intent.py``) on hand-labelled
community messages.

    python -m bench.intent [--model DIR] [--show-errors]

``bench/data/community_messages.jsonl`` holds messages members write in a shop's server,
each labelled by hand with its intent (question, complaint, praise, purchase, other) and
sentiment, written by a helper who had not seen the rules; the rules were scored on it
once written, not fitted to it. Two runs: with the bot's sentiment classifier, as the bot
labels messages, and with the hand-labelled sentiment, which shows how much of the error
is the rules' own. Prints one JSON object: accuracy, macro-F1, per-intent precision,
recall and F1, and the confusion counts (gold -> predicted).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from bench.sentiment import DATA, ours
from bot.insights.intent import INTENTS, intent


def load() -> list[dict]:
    rows = [json.loads(line) for line in
            (DATA / "community_messages.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    bad = [r for r in rows if r.get("intent") not in INTENTS]
    if bad:
        raise SystemExit(f"community_messages.jsonl: intent must be one of {INTENTS}: {bad[0]}")
    return rows


def score(gold: list[str], pred: list[str]) -> dict:
    per = {}
    for c in INTENTS:
        tp = sum(g == c and p == c for g, p in zip(gold, pred))
        fp = sum(g != c and p == c for g, p in zip(gold, pred))
        fn = sum(g == c and p != c for g, p in zip(gold, pred))
        per[c] = {"precision": round(tp / (tp + fp), 3) if tp + fp else None,
                  "recall": round(tp / (tp + fn), 3) if tp + fn else None,
                  "f1": round(2 * tp / (2 * tp + fp + fn), 3) if tp + fp + fn else 0.0,
                  "n": tp + fn}
    confusion = Counter(f"{g} -> {p}" for g, p in zip(gold, pred) if g != p)
    return {"accuracy": round(sum(g == p for g, p in zip(gold, pred)) / len(gold), 4),
            "macro_f1": round(sum(v["f1"] for v in per.values()) / len(per), 4),
            "per_intent": per, "confusions": dict(confusion.most_common())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, help="a sentiment classifier folder (default: the bot's)")
    ap.add_argument("--show-errors", action="store_true", help="print the misses to stderr")
    a = ap.parse_args(argv)
    rows = load()
    texts, gold = [r["text"] for r in rows], [r["intent"] for r in rows]
    sentiments = [three for three, _ in ours(a.model)(texts)]
    predicted = [intent(t, s) for t, s in zip(texts, sentiments)]
    with_gold = [intent(r["text"], r["sentiment"]) for r in rows]
    if a.show_errors:
        for text, want, got, s in zip(texts, gold, predicted, sentiments):
            if want != got:
                print(f"want {want}, got {got} ({s}): {text[:160]}", file=sys.stderr)
    print(json.dumps({"n": len(rows), "with_our_sentiment": score(gold, predicted),
                      "with_hand_sentiment": score(gold, with_gold)}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
