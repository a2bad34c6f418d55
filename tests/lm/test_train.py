"""Training: it learns, it writes a loadable folder, it resumes exactly, DDP matches one process."""
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lm.checkpoint import load_model
from lm.errors import LMError
from lm.presets import preset
from lm.train import lr_at, train
from lm.trainstate import STATE

from ..conftest import ROOT
from .conftest import read_log

FAST = dict(block_size=64, batch_size=8, max_steps=40, eval_interval=10, eval_windows=8,
            warmup_steps=5, vocab_size=640)


def start_dir(tmp_path: Path, tokenizer_path: Path, name="run") -> Path:
    """An output folder that already holds a tokenizer, so runs skip tokenizer training."""
    out = tmp_path / name
    out.mkdir()
    shutil.copy(tokenizer_path, out / "tokenizer.model")
    return out


def lm_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "lm", *map(str, args)]


def run_cli(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(lm_cmd(*args), cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env=env)


def test_training_lowers_validation_loss_and_writes_a_complete_folder(tmp_path, corpus, tokenizer_path):
    out = start_dir(tmp_path, tokenizer_path)
    result = train(preset("tiny", **FAST), [str(corpus)], out, seed=1)
    vals = [r["val_loss"] for r in read_log(out / "log.jsonl") if "val_loss" in r]
    assert len(vals) == 4
    assert vals[-1] < vals[0] < math.log(640)
    assert result["val_bpb"] > 0 and result["step"] == 40
    for name in ("config.json", "model.safetensors", "tokenizer.model", "loss.png", "log.jsonl"):
        assert (out / name).stat().st_size > 0, name
    model = load_model(out)
    assert model.config.vocab_size == 640 and model.config.max_position_embeddings == 64


def test_time_budget_stops_training(tmp_path, corpus, tokenizer_path):
    out = start_dir(tmp_path, tokenizer_path)
    result = train(preset("tiny", **FAST | {"max_steps": 100000, "max_minutes": 0.02}), [str(corpus)], out)
    assert 0 < result["step"] < 100000 and result["elapsed_s"] >= 1.2


def test_init_from_fine_tunes_an_existing_checkpoint(tmp_path, corpus, tokenizer_path):
    base = start_dir(tmp_path, tokenizer_path, "base")
    train(preset("tiny", **FAST | {"max_steps": 10}), [str(corpus)], base)
    tuned = tmp_path / "tuned"
    train(preset("tiny", **FAST | {"max_steps": 10}), [str(corpus)], tuned, init_from=base)
    assert (tuned / "tokenizer.model").read_bytes() == (base / "tokenizer.model").read_bytes()
    first = read_log(tuned / "log.jsonl")[0]["loss"]
    assert first < read_log(base / "log.jsonl")[0]["loss"] - 0.3, "starts from the trained weights"


def test_learning_rate_warms_up_then_decays_or_stays_constant():
    cosine = preset("tiny", warmup_steps=10, max_steps=110, learning_rate=1e-3, min_lr=1e-4)
    assert lr_at(cosine, 0, 0) == pytest.approx(1e-4) and lr_at(cosine, 9, 0) == pytest.approx(1e-3)
    assert lr_at(cosine, 60, 0) == pytest.approx(5.5e-4) and lr_at(cosine, 110, 0) == pytest.approx(1e-4)
    constant = preset("finetune")
    assert not constant.decay_lr
    assert lr_at(constant, 0, 0) < lr_at(constant, 5, 0) == lr_at(constant, 59, 299) == 1e-4


def test_init_from_a_tokenizer_json_chat_model_trains_chats_through_its_template(tmp_path):
    """A SmolLM2-like folder (byte-level BPE tokenizer.json, ChatML, no BOS): the tokenizer and
    template come along, chats are encoded as the model was tuned (ChatML, one EOS), and
    the fine-tuned folder loads and scores like any other."""
    from lm.chat import TEMPLATES
    from lm.data import TokenFile, encode_document
    from lm.gguf_import import import_gguf
    from lm.sources import Chat
    from lm.tokenizer import load_tokenizer
    from .test_gguf import write_gguf
    base = tmp_path / "base"
    import_gguf(write_gguf(tmp_path / "chat.gguf"), base, progress=False)
    chats = tmp_path / "chats.jsonl"
    chats.write_text("\n".join(
        '{"messages": [{"role": "user", "content": "Is the linen shirt true to size? %d"}, '
        '{"role": "assistant", "content": "It runs large; size down."}]}' % i for i in range(60)) + "\n")
    tuned = tmp_path / "tuned"
    result = train(preset("finetune", max_steps=3, block_size=32, eval_interval=3, eval_windows=2),
                   [str(chats)], tuned, init_from=base)
    assert math.isfinite(result["val_bpb"])
    for name in ("tokenizer.json", "tokenizer_config.json"):
        assert (tuned / name).read_bytes() == (base / name).read_bytes()
    assert not (tuned / "tokenizer.model").exists()
    tok = load_tokenizer(tuned)
    doc = Chat((("user", "hi"), ("assistant", "hello")))
    ids = encode_document(tok, doc, TEMPLATES["chatml"])
    assert ids == TEMPLATES["chatml"].encode(tok, doc.messages, add_generation_prompt=False)
    assert ids.count(tok.eos_id) == 2 and ids[0] == tok.control_id("<|im_start|>")  # no BOS, no extra EOS
    data = TokenFile.open(tuned / "data", "train")
    assert tok.control_id("<|im_start|>") in set(data.tokens[:200].tolist())
    assert load_model(tuned).config.vocab_size == tok.vocab_size


def test_ctrl_c_then_resume_equals_an_uninterrupted_run(tmp_path, corpus, tokenizer_path):
    # The interrupted run's step budget is out of reach, so Ctrl-C lands mid-run on any
    # machine. It stops at the step after the signal, wherever that is; the run resumes with
    # a budget 30 steps further on, and an uninterrupted run to that budget must match it
    # exactly. --max-steps may change on resume; the learning rate is set to its minimum so
    # the cosine is flat and the budget does not shape the schedule (warmup still does).
    args = ["--data", corpus, "--preset", "tiny", "--block-size", 64, "--batch-size", 8,
            "--eval-interval", 50, "--learning-rate", preset("tiny").min_lr, "--seed", 5]
    parts = start_dir(tmp_path, tokenizer_path, "parts")
    proc = subprocess.Popen(lm_cmd("train", "--out", parts, *args, "--max-steps", 10**9), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = parts / "log.jsonl"
    deadline = time.time() + 120
    try:
        while not (log.exists() and log.read_text()):  # a step is done: Ctrl-C is handled by now
            assert proc.poll() is None and time.time() < deadline, proc.stderr.read()
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()  # a run that ignored Ctrl-C would otherwise train on, out of reach of its budget
    assert proc.returncode == 0, err
    assert "continue with --resume" in err
    stopped_at = read_log(log)[-1]["step"]
    budget = stopped_at + 30

    resumed = run_cli("train", "--out", parts, *args, "--max-steps", budget, "--resume")
    assert resumed.returncode == 0, resumed.stderr
    whole = start_dir(tmp_path, tokenizer_path, "whole")
    assert run_cli("train", "--out", whole, *args, "--max-steps", budget).returncode == 0
    a, b = load_file(whole / "model.safetensors"), load_file(parts / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [r["step"] for r in read_log(log)] == list(range(1, budget + 1))
    losses = {r["step"]: r["loss"] for r in read_log(whole / "log.jsonl")}
    assert all(losses[r["step"]] == r["loss"] for r in read_log(log))


def test_resume_refuses_a_different_config(tmp_path, corpus, tokenizer_path):
    out = start_dir(tmp_path, tokenizer_path)
    train(preset("tiny", **FAST | {"max_steps": 4}), [str(corpus)], out)
    with pytest.raises(LMError, match="different config: block_size was 64, now 32"):
        train(preset("tiny", **FAST | {"block_size": 32}), [str(corpus)], out, resume=True)
    train(preset("tiny", **FAST | {"max_steps": 6}), [str(corpus)], out, resume=True)
    assert read_log(out / "log.jsonl")[-1]["step"] == 6


def test_resume_takes_a_setting_newer_than_the_saved_run_at_its_default(tmp_path, corpus,
                                                                       tokenizer_path):
    out = start_dir(tmp_path, tokenizer_path)
    train(preset("tiny", **FAST | {"max_steps": 4}), [str(corpus)], out)
    state = json.loads((out / STATE).read_text())
    del state["config"]["decay_lr"]  # as an older run saved it
    (out / STATE).write_text(json.dumps(state))
    train(preset("tiny", **FAST | {"max_steps": 6}), [str(corpus)], out, resume=True)
    assert read_log(out / "log.jsonl")[-1]["step"] == 6
    with pytest.raises(LMError, match="different config: decay_lr was True, now False"):
        train(preset("tiny", **FAST | {"max_steps": 8, "decay_lr": False}), [str(corpus)], out,
              resume=True)


@pytest.mark.skipif(not torch.distributed.is_gloo_available(), reason="needs the gloo backend")
def test_ddp_with_two_gloo_processes_matches_one_process(tmp_path, corpus, tokenizer_path):
    args = ["--data", corpus, "--preset", "tiny", "--max-steps", 6, "--block-size", 64,
            "--batch-size", 8, "--eval-interval", 3, "--precision", "fp32", "--seed", 2]
    one = start_dir(tmp_path, tokenizer_path, "one")
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    r = run_cli("train", "--out", one, *args, env=env)
    assert r.returncode == 0, r.stderr
    two = start_dir(tmp_path, tokenizer_path, "two")
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                        "--nproc_per_node", "2", "-m", "lm", "train", "--out", str(two),
                        *map(str, args)], cwd=ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    l1, l2 = read_log(one / "log.jsonl"), read_log(two / "log.jsonl")
    assert [r["step"] for r in l1] == [r["step"] for r in l2]
    for a, b in zip(l1, l2):
        assert a["loss"] == pytest.approx(b["loss"], abs=2e-4)
    for a, b in zip([r for r in l1 if "val_loss" in r], [r for r in l2 if "val_loss" in r]):
        assert a["val_loss"] == pytest.approx(b["val_loss"], abs=2e-4)
