"""Importing Hugging Face checkpoints: parity with transformers is the acceptance test.

Each case is a random tiny model built by transformers (6 heads, 2 KV heads), saved with
`save_pretrained` (safetensors, the only format transformers 5 writes and the default
before), loaded through `load_model`, and compared on prefill logits, every decode step's
logits and 64 greedy tokens. Weights use initializer_range 0.2 rather than 0.02 so that
attention is sharp: with near-uniform attention a RoPE or head-layout mistake barely moves
the logits (test_a_rope_mistake_is_visible checks that it does here).
"""
import json
import shutil

import pytest
import torch

from lm.checkpoint import describe, load_model
from lm.cli import main
from lm.errors import LMError
from lm.sample import SamplingParams, generate_ids
from lm.tokenizer import load_tokenizer

from .test_chat import ZEPHYR

transformers = pytest.importorskip("transformers")

PROMPT, NEW = 8, 64
LLAMA3 = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
          "original_max_position_embeddings": 16}
CASES = {
    "tied": dict(tie_word_embeddings=True),
    "untied-theta500k-eos-list": dict(tie_word_embeddings=False, rope_theta=500000.0,
                                      eos_token_id=[2, 5], rms_norm_eps=1e-5),
    "head-dim-16": dict(head_dim=16),
    "llama3-scaling": dict(head_dim=16, rope_theta=500000.0, rope_scaling=LLAMA3),
    "linear-scaling-old-keys": dict(rope_scaling={"rope_type": "linear", "factor": 2.0}),
    "sharded": dict(tie_word_embeddings=False),
    "mistral": dict(sliding_window=None),
    "mistral-wide-window": dict(sliding_window=128),
    # Qwen2.5's shape: q/k/v biases (made large below: transformers initialises them to zero),
    # theta 1e6, tied at the small sizes; its default config keeps sliding windows off.
    "qwen2": dict(tie_word_embeddings=True, rope_theta=1e6),
    "qwen2-untied": dict(tie_word_embeddings=False, rms_norm_eps=1e-6),
}
CONFIG_CLASSES = {"mistral": "MistralConfig", "qwen2": "Qwen2Config"}


def hf_model(name: str):
    kw = CASES[name]
    cls = getattr(transformers, CONFIG_CLASSES.get(name.split("-")[0], "LlamaConfig"))
    cfg = cls(vocab_size=640, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
              num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=128,
              initializer_range=0.2, **kw)
    torch.manual_seed(0)
    hf = transformers.AutoModelForCausalLM.from_config(cfg).eval()
    with torch.no_grad():
        for module in hf.modules():
            if isinstance(module, torch.nn.Linear) and module.bias is not None:
                module.bias.normal_(0, 2.0)
    return hf


def save(hf, folder, tokenizer_path, name: str):
    hf.save_pretrained(folder, max_shard_size="60KB" if name == "sharded" else "50GB")
    shutil.copy(tokenizer_path, folder / "tokenizer.model")
    cfg = json.loads((folder / "config.json").read_text())
    if name == "linear-scaling-old-keys":  # the pre-`rope_parameters` form, old `type` key
        params = cfg.pop("rope_parameters", None) or {"rope_theta": cfg["rope_theta"]}
        cfg |= {"rope_theta": params["rope_theta"], "rope_scaling": {"type": "linear", "factor": 2.0}}
        (folder / "config.json").write_text(json.dumps(cfg))
    return folder


@pytest.fixture(scope="module")
def saved(tmp_path_factory, tokenizer_path):
    """name -> (transformers model, folder it was saved to)."""
    root = tmp_path_factory.mktemp("hf")
    out = {}
    for name in CASES:
        hf = hf_model(name)
        out[name] = hf, save(hf, root / name, tokenizer_path, name)
    return out


@pytest.mark.parametrize("name", CASES)
@torch.no_grad()
def test_logits_and_greedy_tokens_match_transformers(saved, name):
    hf, folder = saved[name]
    if name == "sharded":
        assert len(list(folder.glob("model-*.safetensors"))) > 2
        assert not (folder / "model.safetensors").exists()
    if name == "linear-scaling-old-keys":
        assert "rope_parameters" not in json.loads((folder / "config.json").read_text())
    model = load_model(folder)
    assert (model.lm_head.weight is model.model.embed_tokens.weight) == hf.config.tie_word_embeddings
    torch.manual_seed(1)
    x = torch.randint(3, 640, (2, 24))
    torch.testing.assert_close(model(x), hf(x).logits, atol=1e-4, rtol=0)

    prompt = x[:1, :PROMPT]
    out = hf.generate(prompt, max_new_tokens=NEW, do_sample=False, eos_token_id=None,
                      pad_token_id=0, output_logits=True, return_dict_in_generate=True)
    theirs = out.sequences[0, PROMPT:].tolist()
    assert len(theirs) == NEW
    ours = list(generate_ids(model, prompt[0].tolist(), SamplingParams(temperature=0, max_new_tokens=NEW),
                             stop_ids=set()))
    assert ours == theirs
    # Every step through our KV cache, fed transformers' tokens: prefill, then one at a time.
    cache = model.new_cache(1, PROMPT + NEW)
    steps = [model(prompt, positions=torch.arange(PROMPT)[None], cache=cache, last_only=True)[0, -1]]
    for i, token in enumerate(theirs[:-1]):
        steps.append(model(torch.tensor([[token]]), positions=torch.tensor([[PROMPT + i]]), cache=cache)[0, -1])
    torch.testing.assert_close(torch.stack(steps), torch.stack(out.logits)[:, 0], atol=1e-4, rtol=0)


@torch.no_grad()
def test_a_rope_mistake_is_visible(saved, tmp_path):
    """The same llama3-scaled weights read without their scaling must fail the parity check."""
    hf, folder = saved["llama3-scaling"]
    wrong = tmp_path / "wrong"
    shutil.copytree(folder, wrong)
    cfg = json.loads((wrong / "config.json").read_text())
    cfg["rope_parameters"] = {"rope_type": "default", "rope_theta": 500000.0}
    (wrong / "config.json").write_text(json.dumps(cfg))
    x = torch.randint(3, 640, (1, 40))
    assert (load_model(wrong)(x) - hf(x).logits).abs().max() > 0.1


def test_config_fields_are_read(saved):
    cfg = load_model(saved["untied-theta500k-eos-list"][1]).config
    assert (cfg.rope_theta, cfg.rms_norm_eps, cfg.eos_ids, cfg.max_position_embeddings) == \
        (500000.0, 1e-5, [2, 5], 128)
    cfg = load_model(saved["llama3-scaling"][1]).config
    assert cfg.head_dim == 16 and cfg.rope_scaling["rope_type"] == "llama3"
    assert load_model(saved["tied"][1], max_context=64).rope_cos.shape[0] == 64


def test_bf16_load_keeps_greedy_tokens_close(saved):
    hf, folder = saved["untied-theta500k-eos-list"]
    model = load_model(folder, dtype=torch.bfloat16)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    x = torch.randint(3, 640, (1, 24))
    with torch.no_grad():
        ours, theirs = model(x).float(), hf(x).logits
    assert (ours.argmax(-1) == theirs.argmax(-1)).float().mean() > 0.9


def test_describe_reads_headers_only(saved):
    folder = saved["sharded"][1]
    info = describe(folder)
    assert info["parameters"] == load_model(folder).num_params() == hf_model("sharded").num_parameters()
    assert info["dtype"] == "float32" and info["context_length"] == 128
    assert info["kv_cache_bytes_per_token"]["bfloat16"] == 2 * 2 * 2 * 8 * 2  # k+v, layers, kv heads, head_dim


def variant(saved, tmp_path, name="tied"):
    d = tmp_path / "variant"
    shutil.copytree(saved[name][1], d)
    return d


def edit_config(d, **changes):
    cfg = json.loads((d / "config.json").read_text())
    (d / "config.json").write_text(json.dumps(cfg | changes))


@pytest.mark.parametrize("case, match", [
    ("pickle-bin", "found pytorch_model.bin: convert it to safetensors; pickle is never loaded"),
    ("pickle-pt", "found consolidated.00.pt: convert it to safetensors"),
    ("model-type", "unsupported model_type 'gpt_neox' (supported: llama, mistral, qwen2)"),
    ("no-tokenizer", "has no tokenizer.model or tokenizer.json"),
    ("kv-shape", ("tensor model.layers.0.self_attn.k_proj.weight has shape [16, 48], "
                  "config.json implies [24, 48]")),
    ("truncated", "model.safetensors is not a readable safetensors file"),
    ("truncated-shard", "-of-"),
    ("missing-shard", "which is missing"),
    ("rope-dynamic", "unsupported rope_scaling type 'dynamic' (supported: linear, llama3)"),
    ("rope-yarn", "unsupported rope_scaling type 'yarn'"),
    ("sliding-window", "sliding_window 32 is shorter than the context of 128 tokens"),
    ("bias", "attention_bias True is not supported"),
])
def test_refusals_are_clear(saved, tmp_path, case, match):
    d = variant(saved, tmp_path, "sharded" if "shard" in case else "mistral" if "sliding" in case else "tied")
    weights = d / "model.safetensors"
    if case == "pickle-bin":
        weights.rename(d / "pytorch_model.bin")
    elif case == "pickle-pt":
        weights.rename(d / "consolidated.00.pt")
    elif case == "model-type":
        edit_config(d, model_type="gpt_neox")
    elif case == "no-tokenizer":
        (d / "tokenizer.model").unlink()
    elif case == "kv-shape":
        edit_config(d, num_key_value_heads=3)
    elif case == "truncated":
        weights.write_bytes(weights.read_bytes()[:-100])
    elif case == "truncated-shard":
        shard = sorted(d.glob("model-*.safetensors"))[1]
        shard.write_bytes(shard.read_bytes()[:-100])
        match = f"{shard.name} is not a readable safetensors file"
    elif case == "missing-shard":
        min(d.glob("model-*.safetensors")).unlink()
    elif case == "rope-dynamic":
        edit_config(d, rope_parameters={"rope_type": "dynamic", "factor": 2.0, "rope_theta": 1e4})
    elif case == "rope-yarn":
        edit_config(d, rope_scaling={"type": "yarn", "factor": 4.0})
    elif case == "sliding-window":
        edit_config(d, sliding_window=32)
    elif case == "bias":
        edit_config(d, attention_bias=True)
    with pytest.raises(LMError) as e:
        load_tokenizer(d) if case == "no-tokenizer" else load_model(d)
    assert match in str(e.value) and "\n" not in str(e.value)
    if case == "sliding-window":  # what the message suggests works
        assert load_model(d, max_context=32).config.max_position_embeddings == 32


def test_info_and_chat_generate_work_alike_for_imported_and_own_folders(saved, tmp_path, model_dir, capsys):
    d = variant(saved, tmp_path)
    (d / "tokenizer_config.json").write_text(json.dumps({"chat_template": ZEPHYR}))
    for folder, template in ((d, "zephyr"), (model_dir, "lm")):
        assert main(["info", "--model", str(folder)]) == 0
        info = json.loads(capsys.readouterr().out)
        assert info["template"] == template and info["parameters"] == load_model(folder).num_params()
        assert main(["generate", "--model", str(folder), "--prompt", "hi", "--chat", "--system", "Be brief.",
                     "--temperature", "0", "--max-new-tokens", "6"]) == 0
        assert capsys.readouterr().out.endswith("\n")


@torch.no_grad()
def test_qwen2_biases_load_and_survive_int8_serving(saved):
    """The biases are read (a model without them would be far off) and kept, in fp32, by
    the int8 serving path's fused q/k/v matmul."""
    from lm.checkpoint import load_for_inference
    hf, folder = saved["qwen2"]
    assert load_model(folder).model.layers[0].self_attn.k_proj.bias is not None
    served, precision = load_for_inference(folder, "cpu", "int8")
    x = torch.randint(3, 640, (1, 24))
    theirs = hf(x).logits
    assert (served(x).float().argmax(-1) == theirs.argmax(-1)).float().mean() > 0.9
    unbiased = load_model(folder)
    for layer in unbiased.model.layers:
        for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
            proj.bias.zero_()
    assert (unbiased(x) - theirs).abs().max() > 10 * (served(x).float() - theirs).abs().max()
