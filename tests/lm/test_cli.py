"""The command-line contract: output shapes other tools parse, and one-line errors."""
import json
import shutil

import pytest
import torch

from .test_train import run_cli, start_dir


def one_line_error(r, match):
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and match in lines[0], r.stderr


def test_generate_prints_only_the_continuation(model_dir):
    r = run_cli("generate", "--model", model_dir, "--prompt", "PROMPT-MARKER", "--max-new-tokens", 12,
                "--seed", 3)
    assert r.returncode == 0, r.stderr
    assert "PROMPT-MARKER" not in r.stdout and r.stdout.endswith("\n") and len(r.stdout) > 1
    again = run_cli("generate", "--model", model_dir, "--prompt", "PROMPT-MARKER", "--max-new-tokens", 12,
                    "--seed", 3)
    assert again.stdout == r.stdout
    chat = run_cli("generate", "--model", model_dir, "--prompt", "hi", "--chat", "--temperature", 0,
                   "--max-new-tokens", 8)
    assert chat.returncode == 0, chat.stderr


def test_eval_prints_one_json_object(model_dir, corpus):
    r = run_cli("eval", "--model", model_dir, "--data", corpus, "--limit-docs", 20)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) == {"loss", "tokens", "bytes", "bits_per_byte", "perplexity"}
    assert out["perplexity"] == pytest.approx(2.718281828 ** out["loss"])
    assert out["bits_per_byte"] == pytest.approx(out["loss"] * out["tokens"] / 0.693147 / out["bytes"], rel=1e-4)


def test_eval_scores_one_split_as_training_held_it_out(model_dir, corpus):
    def score(*extra):
        r = run_cli("eval", "--model", model_dir, "--data", corpus, *extra)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)
    everything, val = score(), score("--split", "val", "--val-fraction", 0.3)
    train_part = score("--split", "train", "--val-fraction", 0.3)
    assert val["bytes"] + train_part["bytes"] == everything["bytes"] and 0 < val["bytes"] < train_part["bytes"]
    assert score("--context", 16)["tokens"] == everything["tokens"]
    one_line_error(run_cli("train", "--data", corpus, "--out", model_dir, "--val-fraction", 1.5),
                   "--val-fraction must be below 1")


def test_bench_prints_the_keys_results_are_compared_by(model_dir):
    pytest.importorskip("transformers")
    r = run_cli("bench", "--model", model_dir, "--concurrency", "2", "--repeats", 1, "--new-tokens", 8)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    for key in ("decode_tok_s", "hf_decode_tok_s", "decode_tok_s_fp32", "hf_decode_tok_s_fp32",
                "aggregate_tok_s_c2", "hf_serial_tok_s_c2", "p95_latency_s_c2",
                "hf_serial_p95_latency_s_c2", "loop_lag_p99_ms", "bandwidth_fraction"):
        assert isinstance(out[key], float) and out[key] > 0, key


def test_tokenizer_command(tmp_path, corpus):
    r = run_cli("tokenizer", "--data", corpus, "--vocab-size", 500, "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "tokenizer.model").stat().st_size > 0


def test_bad_input_gets_one_line_errors(tmp_path, corpus, model_dir, tokenizer_path):
    csv = tmp_path / "r.csv"
    csv.write_text("a,b\n1,2\n")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    one_line_error(run_cli("tokenizer", "--data", tmp_path / "nope.txt", "--vocab-size", 300, "--out", tmp_path),
                   "no such file")
    one_line_error(run_cli("eval", "--model", model_dir, "--data", f"{csv}:c"), "unknown column 'c'")
    one_line_error(run_cli("tokenizer", "--data", empty, "--vocab-size", 300, "--out", tmp_path), "empty corpus")
    one_line_error(run_cli("tokenizer", "--data", corpus, "--vocab-size", 90000, "--out", tmp_path),
                   "vocabulary of 90000")
    broken = tmp_path / "broken"
    shutil.copytree(model_dir, broken)
    (broken / "model.safetensors").unlink()
    one_line_error(run_cli("generate", "--model", broken, "--prompt", "x"), "no model.safetensors")
    if not torch.cuda.is_available():
        one_line_error(run_cli("train", "--data", corpus, "--out", tmp_path / "c", "--device", "cuda"),
                       "no CUDA GPU")
    out = start_dir(tmp_path, tokenizer_path)
    args = ["--data", corpus, "--preset", "tiny", "--block-size", 64, "--max-steps", 2, "--out", out]
    assert run_cli("train", *args).returncode == 0
    one_line_error(run_cli("train", *args, "--resume", "--learning-rate", 0.5),
                   "different config: learning_rate")
    one_line_error(run_cli("train", "--data", corpus, "--out", tmp_path / "fresh", "--resume"),
                   "has no train_state.json")
