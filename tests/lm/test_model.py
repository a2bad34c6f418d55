import json

import pytest
import torch

from lm.checkpoint import load_model, save_model
from lm.errors import LMError
from lm.model import Llama, ModelConfig
from lm.tokenizer import load_tokenizer

from .conftest import tiny_config


def make(**kw) -> Llama:
    torch.manual_seed(0)
    model = Llama(tiny_config(**kw))
    model.init_weights()
    return model.eval()


def test_config_round_trips_through_hf_fields():
    cfg = tiny_config(rope_theta=500000.0, tie_word_embeddings=False)
    assert ModelConfig.from_hf(json.loads(json.dumps(cfg.to_hf()))) == cfg
    d = cfg.to_hf()
    del d["rope_theta"]
    assert ModelConfig.from_hf(d | {"rope_parameters": {"rope_theta": 7.0}}).rope_theta == 7.0


@torch.no_grad()
def test_changing_a_future_token_never_changes_past_logits():
    model = make()
    x = torch.randint(0, 640, (2, 40))
    y = x.clone()
    y[:, 25:] = torch.randint(0, 640, (2, 15))
    a, b = model(x), model(y)
    assert torch.equal(a[:, :25], b[:, :25])
    assert not torch.allclose(a[:, 25:], b[:, 25:])


@torch.no_grad()
def test_kv_cache_matches_full_recompute_with_rows_at_different_positions():
    """Rows prefilled to different lengths, then decoded together: the batching-engine case."""
    model = make()
    x = torch.randint(0, 640, (3, 48))
    full = model(x)
    lens = torch.tensor([10, 18, 26])
    cache = model.new_cache(3, 96)
    width = int(lens.max())
    pre = model(x[:, :width], positions=torch.arange(width).expand(3, width), cache=cache)
    for r, n in enumerate(lens.tolist()):
        torch.testing.assert_close(pre[r, :n], full[r, :n], atol=1e-5, rtol=1e-5)
    for s in range(48 - width):
        pos = (lens + s)[:, None]
        step = model(x.gather(1, pos), positions=pos, cache=cache)
        torch.testing.assert_close(step[:, 0], full[torch.arange(3), pos[:, 0]], atol=1e-5, rtol=1e-5)


@torch.no_grad()
def test_cache_grows_and_shrinks_without_changing_answers():
    """The cache's length follows the longest row (attention reads all of it), so growing
    past a GROW boundary and giving room back must keep every position's keys."""
    model = make(max_position_embeddings=320)
    x = torch.randint(0, 640, (2, 300))
    full = model(x)
    cache = model.new_cache(2, 320)
    assert cache[0].length == 128
    model(x[:, :100], positions=torch.arange(100).expand(2, 100), cache=cache)

    def decode(start, stop):
        for p in range(start, stop):
            step = model(x[:, p:p + 1], positions=torch.full((2, 1), p), cache=cache)
            torch.testing.assert_close(step[:, 0], full[:, p], atol=1e-4, rtol=1e-4)

    decode(100, 300)
    assert cache[0].length == 320  # 300 rounded up to 384, capped at the context
    assert cache[0].fit(150, shrink=True) == 256 and all(c.fit(150, shrink=True) == 256 for c in cache)
    decode(150, 200)


def test_save_and_load_round_trip(tmp_path, tokenizer_path):
    for tied in (True, False):
        model = make(tie_word_embeddings=tied)
        save_model(model, tokenizer_path, tmp_path / str(tied))
        loaded = load_model(tmp_path / str(tied))
        x = torch.randint(0, 640, (1, 20))
        with torch.no_grad():
            assert torch.equal(model(x), loaded(x))
        assert (loaded.lm_head.weight is loaded.model.embed_tokens.weight) == tied


@pytest.mark.parametrize("tied", [True, False])
def test_transformers_loads_our_checkpoint_with_same_logits_and_greedy_tokens(tmp_path, tokenizer_path, tied):
    transformers = pytest.importorskip("transformers")
    model = make(tie_word_embeddings=tied, rope_theta=500000.0 if tied else 10000.0)
    save_model(model, tokenizer_path, tmp_path)
    hf = transformers.LlamaForCausalLM.from_pretrained(tmp_path, torch_dtype=torch.float32).eval()
    x = torch.randint(3, 640, (2, 30))
    with torch.no_grad():
        torch.testing.assert_close(model(x), hf(x).logits, atol=1e-4, rtol=0)
    from lm.sample import SamplingParams, generate_ids
    prompt = x[0, :8].tolist()
    ours = list(generate_ids(model, prompt, SamplingParams(temperature=0, max_new_tokens=24), set()))
    theirs = hf.generate(x[:1, :8], max_new_tokens=24, do_sample=False, eos_token_id=None,
                         pad_token_id=0)[0, 8:].tolist()
    assert ours == theirs


def test_checkpoint_refusals(tmp_path, tokenizer_path):
    good = tmp_path / "good"
    save_model(make(), tokenizer_path, good)

    def variant(name):
        d = tmp_path / name
        d.mkdir()
        for f in good.iterdir():
            (d / f.name).write_bytes(f.read_bytes())
        return d

    with pytest.raises(LMError, match="does not exist"):
        load_model(tmp_path / "absent")
    d = variant("no_tok")
    (d / "tokenizer.model").unlink()
    with pytest.raises(LMError, match="has no tokenizer.model or tokenizer.json"):
        load_tokenizer(d)
    d = variant("pickle")
    (d / "model.safetensors").rename(d / "pytorch_model.bin")
    with pytest.raises(LMError, match="pytorch_model.bin: convert it to safetensors"):
        load_model(d)
    d = variant("truncated")
    data = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(LMError, match="not a readable safetensors"):
        load_model(d)
    d = variant("shape")
    cfg = json.loads((d / "config.json").read_text())
    (d / "config.json").write_text(json.dumps(cfg | {"intermediate_size": 64}))
    with pytest.raises(LMError, match=r"mlp.gate_proj.weight has shape \[96, 48\], config.json implies \[64, 48\]"):
        load_model(d)
    d = variant("type")
    (d / "config.json").write_text(json.dumps(cfg | {"model_type": "gpt2"}))
    with pytest.raises(LMError, match="unsupported model_type 'gpt2'"):
        load_model(d)
    d = variant("json")
    (d / "config.json").write_text("{not json")
    with pytest.raises(LMError, match="not valid JSON"):
        load_model(d)
