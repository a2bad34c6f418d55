"""First run: the default model is trained once (here: a tiny preset, two steps), then cached."""

import io

import pytest

from bot.firstrun import DEMO_SOURCES, is_model_dir, resolve_model_dir
from bot.model import ChatRequest, LocalModel
from lm.errors import LMError
from lm.presets import preset


def tiny_cfg():
    return preset("tiny", max_steps=2, block_size=64, vocab_size=400, eval_interval=2,
                  eval_windows=2)


async def test_trains_the_default_model_once_then_uses_the_cache(tmp_path):
    out = io.StringIO()
    model_dir = resolve_model_dir(None, None, tmp_path, cfg=tiny_cfg(), sources=DEMO_SOURCES,
                                  out=out)
    assert model_dir == tmp_path / "models" / "default" and is_model_dir(model_dir)
    assert not (tmp_path / "models" / "default.partial").exists()
    said = out.getvalue()
    assert "No model yet" in said and "ETA" in said and "2 training steps" in said
    assert "faq.txt, products.txt, community.jsonl" in said

    again = io.StringIO()
    assert resolve_model_dir(None, None, tmp_path, cfg=tiny_cfg(), out=again) == model_dir
    assert again.getvalue() == ""

    model = LocalModel.load(model_dir, device="cpu")  # it has our chat role tags
    try:
        assert isinstance(await model.complete(ChatRequest([("user", "hi")], max_new_tokens=3)), str)
    finally:
        await model.close()


def test_an_explicit_model_folder_wins_and_is_checked(tmp_path, tiny_model_dir):
    assert resolve_model_dir(tiny_model_dir, None, tmp_path) == tiny_model_dir
    assert resolve_model_dir(None, tiny_model_dir, tmp_path) == tiny_model_dir
    with pytest.raises(LMError, match="--model .* is not a model folder"):
        resolve_model_dir(tmp_path, tiny_model_dir, tmp_path)
