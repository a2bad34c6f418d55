"""The tokenizer half of a GGUF import: a GGUF carries its vocabulary as metadata, and this
turns it into the files an HF folder has.

- ``tokenizer.ggml.model`` gpt2: a ``tokenizers`` byte-level BPE ``tokenizer.json`` (vocab and
  merges from the metadata). The pre-tokenizer is only named (``tokenizer.ggml.pre``);
  ``PRE_TOKENIZERS`` maps the names we know to the split llama.cpp's llama-vocab.cpp applies.
  ``smollm`` (SmolLM2, shared with StarCoder) splits every digit off before the GPT-2 split.
- ``llama``: a sentencepiece ``tokenizer.model`` rebuilt from pieces, scores and types.
- ``tokenizer_config.json``: the chat template, the special tokens and ``add_bos_token``.
Control tokens become special tokens, which text cannot produce.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import LMError

if TYPE_CHECKING:
    from .gguf_import import Metadata

CONTROL, USER_DEFINED = 3, 4  # llama.cpp token types

# tokenizer.ggml.pre -> does llama.cpp split every digit off before the GPT-2 regex?
# (llama-vocab.cpp: STARCODER, REFACT, COMMAND_R, SMOLLM, CODESHELL, EXAONE, MINERVA use
# `\p{N}` then the GPT-2 expression; GPT2, MPT, OLMO, JAIS and the default use GPT-2's alone.)
PRE_TOKENIZERS = {
    "smollm": True, "starcoder": True, "refact": True, "command-r": True, "codeshell": True,
    "exaone": True, "minerva-7b": True,
    "gpt2": False, "default": False, "mpt": False, "olmo": False, "jais": False,
}


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte alphabet: printable bytes stand for themselves, the rest move past 255."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, n = list(keep), 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(keep, chars)}


def sentencepiece_model(meta: Metadata) -> bytes:
    """tokenizer.model for a `llama` (sentencepiece BPE) vocabulary: the pieces with their scores
    and types (llama.cpp numbers token types as sentencepiece does), identity normalisation, the
    dummy-prefix space unless `tokenizer.ggml.add_space_prefix` is false, and byte fallback
    when the vocabulary has byte pieces."""
    try:
        from sentencepiece import sentencepiece_model_pb2 as pb
    except ImportError:
        raise LMError("writing a sentencepiece tokenizer.model needs protobuf: pip install protobuf") from None
    tokens = meta.need("tokenizer.ggml.tokens")
    scores = meta.get("tokenizer.ggml.scores") or [0.0] * len(tokens)
    types = meta.get("tokenizer.ggml.token_type") or [1] * len(tokens)
    m = pb.ModelProto()
    for piece, score, kind in zip(tokens, scores, types):
        m.pieces.add(piece=piece, score=score, type=kind if 1 <= kind <= 6 else 1)
    t = m.trainer_spec
    t.model_type = pb.TrainerSpec.BPE
    t.vocab_size = len(tokens)
    t.byte_fallback = 6 in types
    t.unk_id = meta.get("tokenizer.ggml.unknown_token_id", 0)
    for key, field in (("bos_token_id", "bos_id"), ("eos_token_id", "eos_id"), ("padding_token_id", "pad_id")):
        setattr(t, field, meta.get(f"tokenizer.ggml.{key}", -1))
    for field in ("unk", "bos", "eos", "pad"):
        i = getattr(t, f"{field}_id")
        if 0 <= i < len(tokens):
            setattr(t, f"{field}_piece", tokens[i])
    n = m.normalizer_spec
    n.name = "identity"
    n.add_dummy_prefix = bool(meta.get("tokenizer.ggml.add_space_prefix", True))
    n.remove_extra_whitespaces = False
    n.escape_whitespaces = True
    data = m.SerializeToString()
    import sentencepiece as spm
    try:
        spm.SentencePieceProcessor(model_proto=data)
    except (RuntimeError, OSError) as e:
        raise LMError(f"{meta.path}: its sentencepiece vocabulary does not load ({e})") from None
    return data


def tokenizer_json(meta: Metadata):
    """A `tokenizers.Tokenizer` for a `gpt2` (byte-level BPE) vocabulary."""
    kind = meta.need("tokenizer.ggml.model")
    if kind != "gpt2":
        raise LMError(f"{meta.path}: tokenizer.ggml.model {kind!r} is not supported "
                      f"(supported: gpt2, llama)")
    pre = meta.get("tokenizer.ggml.pre", "default")
    if pre not in PRE_TOKENIZERS:
        raise LMError(f"{meta.path}: pre-tokenizer {pre!r} is not supported yet "
                      f"(supported: {', '.join(sorted(PRE_TOKENIZERS))})")
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    tokens = meta.need("tokenizer.ggml.tokens")
    types = meta.get("tokenizer.ggml.token_type") or [1] * len(tokens)
    merges = meta.get("tokenizer.ggml.merges") or []
    spelling = _bytes_to_unicode()
    alphabet = set(spelling.values())
    # Every real token is spelled in the byte alphabet; respell any that is not (as transformers does).
    spelled = [t if set(t) <= alphabet else "".join(spelling[b] for b in t.encode()) for t in tokens]
    vocab = {t: i for i, t in enumerate(spelled)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m.split(" ", 1)) for m in merges],
                               fuse_unk=False, byte_fallback=False))
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)
    tok.pre_tokenizer = (pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
                         if PRE_TOKENIZERS[pre] else byte_level)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    # Control tokens are special (text never produces them when special tokens are not parsed);
    # a "control" token spelled outside the byte alphabet is a converter mislabel and is skipped.
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t, k in zip(tokens, types) if k == CONTROL and set(t) <= alphabet])
    tok.add_tokens([AddedToken(t, special=False, normalized=False)
                    for t, k in zip(tokens, types) if k == USER_DEFINED and t in vocab])
    bos = meta.get("tokenizer.ggml.bos_token_id")
    if meta.get("tokenizer.ggml.add_bos_token", False) and bos is not None:
        tok.post_processor = processors.Sequence([
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single=f"{tokens[bos]}:0 $A:0",
                                          pair=f"{tokens[bos]}:0 $A:0 {tokens[bos]}:1 $B:1",
                                          special_tokens=[(tokens[bos], bos)])])
    return tok


def tokenizer_config(meta: Metadata) -> dict:
    tokens = meta.need("tokenizer.ggml.tokens")
    spm = meta.get("tokenizer.ggml.model") == "llama"

    def token(key):
        i = meta.get(f"tokenizer.ggml.{key}")
        return tokens[i] if i is not None and 0 <= i < len(tokens) else None

    cfg = {
        "tokenizer_class": "LlamaTokenizer" if spm else "PreTrainedTokenizerFast",
        "bos_token": token("bos_token_id"),
        "eos_token": token("eos_token_id"),
        "unk_token": token("unknown_token_id"),
        "pad_token": token("padding_token_id"),
        # llama.cpp adds BOS to a sentencepiece vocabulary whose file does not say otherwise
        "add_bos_token": bool(meta.get("tokenizer.ggml.add_bos_token", spm)),
        "add_eos_token": bool(meta.get("tokenizer.ggml.add_eos_token", False)),
        "clean_up_tokenization_spaces": False,
    }
    template = meta.get("tokenizer.chat_template")
    if template is not None:
        cfg["chat_template"] = template
    if spm:
        cfg["legacy"] = True  # sentencepiece's own split at special tokens (see lm/chat.py)
    return cfg
