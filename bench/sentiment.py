"""Sentiment benchmark: the bot's classifier against VADER and TextBlob, same texts, same run.

    python -m bench.sentiment [--model DIR] [--limit N] [--show-errors]

Needs the benchmark extra: ``pip install -e '.[bench]'`` (vaderSentiment, textblob).

Three sets, each scored for every classifier:
  * ``reviews``: the held-out split of ``../shared/data/womens_clothing_reviews.csv.gz``
    (every tenth row, which training never sees; ``lm/classify.py``), shuffled with seed 0,
    the first ``--limit`` (default 2,000). 1-2 stars are negative, 3 neutral, 4-5 positive.
    Skipped, with a note, when ``../shared`` is absent;
  * ``community``: ``bench/data/community_messages.jsonl``, messages members write in a
    shop's server, labelled by hand;
  * ``domains``: ``bench/data/sentiment_domains.jsonl``, review sentences about phones,
    restaurants, films, hotels, software and books, labelled by hand: nothing about
    clothing, to see whether the classifier learnt sentiment or clothing.
Both hand-labelled sets were written by a helper who had not seen the classifier, and
nothing was tuned on them.

Metrics: binary accuracy and macro-F1 on negative against positive (neutral texts left
out; ours says positive when p(positive) > p(negative), VADER when compound >= 0,
TextBlob when polarity >= 0), and 3-class macro-F1 (VADER's documented cut-offs, compound
>= 0.05 positive and <= -0.05 negative; TextBlob's polarity with the same cut-offs).
Cost: milliseconds per message, classified in batches of 32 on this machine's CPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.config import load_settings
from lm.classify import read_labelled

DATA = Path(__file__).resolve().parent / "data"
REVIEWS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "womens_clothing_reviews.csv.gz"
LABELS = ("negative", "neutral", "positive")
BATCH = 32


def macro_f1(gold: Sequence[str], pred: Sequence[str], classes: Sequence[str]) -> float:
    scores = []
    for c in classes:
        tp = sum(g == c and p == c for g, p in zip(gold, pred))
        fp = sum(g != c and p == c for g, p in zip(gold, pred))
        fn = sum(g == c and p != c for g, p in zip(gold, pred))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return round(sum(scores) / len(scores), 4)


def load_jsonl(path: Path, field: str = "sentiment") -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            row = json.loads(line)
            if row.get(field) not in LABELS or not isinstance(row.get("text"), str):
                raise SystemExit(f"{path}:{number}: needs text and {field} in {LABELS}")
            texts.append(row["text"])
            labels.append(row[field])
    return texts, labels


# Each scorer maps texts to (3-class label, binary label) per text.
Scorer = Callable[[list[str]], list[tuple[str, str]]]


def ours(model: Path | None) -> Scorer:
    from bot.insights.models import load_sentiment

    settings = dataclasses.replace(load_settings(env_file=None), sentiment_model=model)
    classifier = load_sentiment(settings)

    def score(texts: list[str]) -> list[tuple[str, str]]:
        out = []
        for start in range(0, len(texts), BATCH):
            for label, p in classifier.classify(texts[start:start + BATCH]):
                out.append((label, "positive" if p["positive"] > p["negative"] else "negative"))
        return out
    return score


def _cut(value: float) -> tuple[str, str]:
    three = "positive" if value >= 0.05 else "negative" if value <= -0.05 else "neutral"
    return three, "positive" if value >= 0 else "negative"


def vader() -> Scorer:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    analyzer = SentimentIntensityAnalyzer()
    return lambda texts: [_cut(analyzer.polarity_scores(t)["compound"]) for t in texts]


def textblob() -> Scorer:
    from textblob import TextBlob

    return lambda texts: [_cut(TextBlob(t).sentiment.polarity) for t in texts]


def evaluate(scorer: Scorer, texts: list[str], gold: list[str]) -> tuple[dict, list]:
    started = time.perf_counter()
    predicted = scorer(texts)
    elapsed = time.perf_counter() - started
    polar = [i for i, g in enumerate(gold) if g != "neutral"]
    binary_gold = [gold[i] for i in polar]
    binary_pred = [predicted[i][1] for i in polar]
    three = [p[0] for p in predicted]
    errors = [(texts[i], gold[i], three[i]) for i in range(len(texts)) if three[i] != gold[i]]
    return {
        "n": len(texts),
        "binary_accuracy": round(sum(g == p for g, p in zip(binary_gold, binary_pred)) / len(polar), 4),
        "binary_macro_f1": macro_f1(binary_gold, binary_pred, ("negative", "positive")),
        "three_class_macro_f1": macro_f1(gold, three, LABELS),
        "ms_per_message": round(1000 * elapsed / len(texts), 2),
    }, errors


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, help="a classifier folder (default: the bot's own)")
    ap.add_argument("--limit", type=int, default=2000, help="held-out reviews to score")
    ap.add_argument("--show-errors", action="store_true", help="print our misses to stderr")
    a = ap.parse_args(argv)
    sets: dict[str, tuple[list[str], list[str]]] = {}
    notes = []
    if REVIEWS.exists():
        sets["reviews"] = read_labelled(f"{REVIEWS}:Title,Review Text", "Rating",
                                        {"1": "negative", "2": "negative", "3": "neutral",
                                         "4": "positive", "5": "positive"},
                                        a.limit, split="test", seed=0)
    else:
        notes.append(f"reviews skipped: {REVIEWS} not found (../shared is absent)")
    sets["community"] = load_jsonl(DATA / "community_messages.jsonl")
    sets["domains"] = load_jsonl(DATA / "sentiment_domains.jsonl")
    scorers = {"ours": ours(a.model), "vader": vader(), "textblob": textblob()}
    result: dict = {"sets": {}, "notes": notes}
    for set_name, (texts, gold) in sets.items():
        row = {}
        for name, scorer in scorers.items():
            row[name], errors = evaluate(scorer, texts, gold)
            if a.show_errors and name == "ours":
                for text, want, got in errors:
                    print(f"[{set_name}] want {want}, got {got}: {text[:160]}", file=sys.stderr)
        for metric in ("binary_macro_f1", "three_class_macro_f1"):
            row[f"{metric}_vs_vader"] = round(row["ours"][metric] / row["vader"][metric], 3)
            row[f"{metric}_vs_textblob"] = round(row["ours"][metric] / row["textblob"][metric], 3)
        result["sets"][set_name] = row
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
