"""`python -m lm ...`: the command-line contract other tools and the benchmarks rely on."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from .chat import TEMPLATES
from .errors import LMError
from .presets import PRESETS

SOURCE_HELP = ("text source: FILE.txt, FILE.jsonl:FIELD[,FIELD], FILE.jsonl (chat format), "
               "FILE.csv[.gz]:COL[,COL], or 'chitchat'")


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive whole number")
    return int(text)


def _add_corpus_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", nargs="+", required=True, metavar="SRC", help=SOURCE_HELP)
    p.add_argument("--limit-docs", type=int, metavar="N", help="use only the first N documents")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m lm", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("tokenizer", help="train a sentencepiece BPE tokenizer")
    _add_corpus_args(p)
    p.add_argument("--vocab-size", type=int, default=8192)
    p.add_argument("--out", type=Path, required=True)

    p = sub.add_parser("train", help="train (or fine-tune) a Llama model")
    _add_corpus_args(p)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--preset", choices=sorted(PRESETS), default="small")
    p.add_argument("--max-steps", type=int)
    p.add_argument("--max-minutes", type=float)
    p.add_argument("--batch-size", type=int, help="sequences per step over all processes")
    p.add_argument("--block-size", type=int, help="training context length")
    p.add_argument("--grad-accum", type=int)
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--vocab-size", type=int, help="tokenizer size when one is trained")
    p.add_argument("--eval-interval", type=int)
    p.add_argument("--val-fraction", type=float, help="share of documents held out for validation")
    p.add_argument("--resume", action="store_true", help="continue the run saved in --out")
    p.add_argument("--init-from", type=Path, metavar="DIR", help="fine-tune this Llama folder")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"])
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--peak-tflops", type=float, default=989.0,
                   help="accelerator peak for the MFU estimate (default: H100 bf16 dense)")
    p.add_argument("--seed", type=int, default=1337)

    p = sub.add_parser("train-classifier",
                       help="train a text classifier head on a model's frozen hidden states")
    p.add_argument("--data", required=True, metavar="FILE.csv[.gz]:TEXTCOL[,COL]")
    p.add_argument("--label-column", required=True, metavar="COL")
    p.add_argument("--label-map", metavar="MAP",
                   help='raw values to labels, e.g. "1,2=negative;3=neutral;4,5=positive"')
    p.add_argument("--backbone", type=Path, required=True, metavar="DIR",
                   help="the Llama-family folder whose hidden states are the features")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--layer", type=int, help="which layer to pool (default: the middle one)")
    p.add_argument("--limit-docs", type=int, metavar="N", help="use only N rows (after shuffling)")
    p.add_argument("--split", choices=("train", "test"),
                   help="one side of the held-out split: every tenth row is test (lm/classify.py)")
    p.add_argument("--seed", type=int, default=0, help="row shuffle and head initialisation")
    p.add_argument("--template", help="the text around each text, with {text} where it goes "
                                      "(default: a review question, lm/classify.py)")
    p.add_argument("--max-minutes", type=float, help="stop embedding after this long")

    p = sub.add_parser("classify", help="label texts, one per line, as JSON lines")
    p.add_argument("--model", type=Path, required=True, metavar="DIR", help="a classifier folder")
    p.add_argument("--input", type=Path, help="a text file (default: stdin)")
    p.add_argument("--backbone", type=Path, help="the backbone folder, if it moved")

    p = sub.add_parser("generate", help="continue a prompt")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--prompt", required=True)
    p.add_argument("--max-new-tokens", type=int, default=128)
    p.add_argument("--temperature", type=float, default=0.8)
    p.add_argument("--top-k", type=int, default=50)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--repetition-penalty", type=float, default=1.0)
    p.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    p.add_argument("--seed", type=int)
    p.add_argument("--chat", action="store_true", help="treat the prompt as a user message")
    p.add_argument("--system", help="system prompt, with --chat")
    p.add_argument("--template", choices=sorted(TEMPLATES),
                   help="chat template, with --chat (default: what the model folder says)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"])

    p = sub.add_parser("info", help="size, dtype, context, KV cache and chat template (JSON)")
    p.add_argument("--model", type=Path, required=True)

    p = sub.add_parser("eval", help="loss and bits per byte on some text")
    p.add_argument("--model", type=Path, required=True)
    _add_corpus_args(p)
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="fp32", choices=["auto", "bf16", "fp32"])
    p.add_argument("--context", type=_positive, default=1024,
                   help="score in windows of this many tokens, at most the model's context "
                        "(default 1024: SmolLM2's 8,192 would need 13 GB of logits)")
    p.add_argument("--split", choices=["all", "train", "val"], default="all",
                   help="score only the documents `lm train` trains on or holds out")
    p.add_argument("--val-fraction", type=float, default=0.02,
                   help="with --split: the held-out share the training run used (default 0.02)")

    p = sub.add_parser("bench", help="serving speed against transformers (JSON)")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--concurrency", default="1,4,16,64", help="comma-separated request counts")
    p.add_argument("--new-tokens", type=int, default=128, help="forced output length at batch 1")
    p.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    p.add_argument("--repeats", type=int, default=3, help="rounds per figure; the median is reported")

    p = sub.add_parser("import-gguf", help="convert a llama.cpp GGUF file into a bf16 HF folder")
    p.add_argument("file", type=Path, metavar="FILE", help="the .gguf file")
    p.add_argument("--out", type=Path, required=True, help="model folder to write")
    return ap


def cmd_tokenizer(a) -> None:
    from .clean import document_text, load_corpus
    from .tokenizer import train_tokenizer
    docs = load_corpus(a.data, limit=a.limit_docs)
    path = train_tokenizer((document_text(d) for d in docs), a.vocab_size, a.out / "tokenizer.model")
    print(f"wrote {path} ({a.vocab_size} pieces, {len(docs)} documents)", file=sys.stderr)


def cmd_train(a) -> None:
    from .presets import preset
    from .train import train
    for flag in ("batch_size", "block_size", "grad_accum", "max_steps", "max_minutes",
                 "learning_rate", "vocab_size", "eval_interval", "val_fraction"):
        value = getattr(a, flag)
        if value is not None and value <= 0:
            raise LMError(f"--{flag.replace('_', '-')} must be positive, got {value}")
    if a.val_fraction is not None and a.val_fraction >= 1:
        raise LMError(f"--val-fraction must be below 1, got {a.val_fraction}")
    cfg = preset(a.preset, max_steps=a.max_steps, max_minutes=a.max_minutes,
                 batch_size=a.batch_size, block_size=a.block_size, grad_accum=a.grad_accum,
                 learning_rate=a.learning_rate, vocab_size=a.vocab_size,
                 eval_interval=a.eval_interval, val_fraction=a.val_fraction)
    result = train(cfg, a.data, a.out, resume=a.resume, init_from=a.init_from, device=a.device,
                   precision=a.precision, seed=a.seed, compile=a.compile,
                   limit_docs=a.limit_docs, peak_tflops=a.peak_tflops)
    if os.environ.get("RANK", "0") != "0":
        return  # under torchrun, rank 0 reports for everyone
    print(json.dumps(result), file=sys.stderr)
    if result["stopped"]:
        print(f"interrupted at step {result['step']}; continue with --resume", file=sys.stderr)


def cmd_generate(a) -> None:
    from .chat import template_for
    from .checkpoint import load_model
    from .device import autocast, pick_device, pick_dtype
    from .sample import SamplingParams, generate_text
    from .tokenizer import load_tokenizer
    device = pick_device(a.device)
    dtype = pick_dtype(device, a.precision)
    model = load_model(a.model, device=device, dtype=dtype)
    template = template_for(a.model, a.template) if a.chat else None
    tok = load_tokenizer(a.model)
    params = SamplingParams(temperature=a.temperature, top_k=a.top_k, top_p=a.top_p,
                            repetition_penalty=a.repetition_penalty,
                            max_new_tokens=a.max_new_tokens, seed=a.seed,
                            stop=tuple(a.stop) + (template.stop_strings if template else ()))
    stop_ids = set(model.config.eos_ids)
    if template:
        turns = ([("system", a.system)] if a.system else []) + [("user", a.prompt)]
        prompt = template.encode(tok, turns)
        stop_ids |= template.stop_ids(tok)
    else:
        prompt = [*tok.prefix(), *tok.encode(a.prompt)]
    for text in generate_text(model, tok, prompt, params, stop_ids, autocast(device, dtype)):
        sys.stdout.write(text)
        sys.stdout.flush()
    sys.stdout.write("\n")


def cmd_eval(a) -> None:
    from .clean import load_corpus
    from .data import is_validation
    from .evaluate import evaluate_folder
    docs = load_corpus(a.data, limit=a.limit_docs)
    if a.split != "all":
        docs = [d for d in docs if is_validation(d, a.val_fraction) == (a.split == "val")]
        if not docs:
            raise LMError(f"no {a.split} documents in these sources at --val-fraction {a.val_fraction}")
    print(json.dumps(evaluate_folder(a.model, docs, device=a.device, precision=a.precision,
                                     context=a.context)))


def cmd_train_classifier(a) -> None:
    from .classify import parse_label_map, read_labelled, train_classifier
    texts, labels = read_labelled(a.data, a.label_column, parse_label_map(a.label_map),
                                  a.limit_docs, split=a.split, seed=a.seed)
    print(json.dumps(train_classifier(a.backbone, texts, labels, a.out, layer=a.layer,
                                      max_minutes=a.max_minutes, seed=a.seed,
                                      **({"template": a.template} if a.template else {}))))


def cmd_classify(a) -> None:
    from .classify import Classifier, classify_lines
    classifier = Classifier(a.model, a.backbone)
    source = open(a.input, encoding="utf-8", errors="replace") if a.input else sys.stdin
    with source:
        classify_lines(classifier, source, sys.stdout)


def cmd_info(a) -> None:
    from .chat import template_name
    from .checkpoint import describe
    print(json.dumps(describe(a.model) | {"template": template_name(a.model)}))


def cmd_bench(a) -> None:
    from .bench import main
    from .checkpoint import read_config
    read_config(a.model)  # a clear error for a bad folder before anything is timed
    for flag in ("new_tokens", "threads", "repeats"):
        value = getattr(a, flag)
        if value is not None and value <= 0:
            raise LMError(f"--{flag.replace('_', '-')} must be positive, got {value}")
    main(a.model, concurrency=tuple(int(c) for c in a.concurrency.split(",")),
         new_tokens=a.new_tokens, threads=a.threads, repeats=a.repeats)


def cmd_import_gguf(a) -> None:
    from .gguf_import import import_gguf
    cfg = import_gguf(a.file, a.out)
    print(f"wrote {a.out} ({cfg['num_hidden_layers']} layers, {cfg['hidden_size']} wide, "
          f"vocabulary {cfg['vocab_size']})", file=sys.stderr)


COMMANDS = {"bench": cmd_bench, "tokenizer": cmd_tokenizer, "train": cmd_train, "generate": cmd_generate,
            "eval": cmd_eval, "info": cmd_info, "import-gguf": cmd_import_gguf,
            "train-classifier": cmd_train_classifier, "classify": cmd_classify}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except LMError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
