"""Our tokenizer against transformers' Llama tokenizer, on mixed text and special tokens.

transformers 5 has no sentencepiece-backed LlamaTokenizer any more: `LlamaTokenizer` is a
`tokenizers` BPE with byte fallback, converted from tokenizer.model by taking its pieces as
the vocabulary, deriving merges with transformers' `generate_merges`, and making control
symbols special tokens. `hf_tokenizer` builds exactly that without `from_pretrained`, whose
converter needs protobuf, which is not one of our dependencies; the last test checks the two
agree wherever protobuf is installed. The differences found are documented in lm/tokenizer.py.
"""
import pytest

from .conftest import MIXED

pytest.importorskip("transformers", minversion="5")
from transformers import AddedToken, LlamaTokenizer  # noqa: E402
from transformers.tokenization_utils_base import generate_merges  # noqa: E402

CORPUS = MIXED + [
    "Plain English, with punctuation: yes; no... 'quotes' and \"double quotes\".",
    "混合 English 和中文，还有数字 12345 以及 emoji 😀",
    "family emoji 👨‍👩‍👧 flags 🇬🇧🇯🇵 skin tone 👍🏿 and 🫠",
    "digits 0 00 007 3.14159 1,000,000 2024-05-01T12:30",
    "runs of   spaces,\t\ttabs,\n\n\nnewlines and a trailing space ",
    "special tokens typed as text: <s> </s> <unk> <pad> <|user|> <|assistant|> <|end|>",
    "glued<s>specials</s>",
    "</s>",
    "\tleading tab",
    "\n\nleading newlines",
    "",
    "x",
]
LEADING_SPACE = [" leading space", "   three spaces", " "]


def hf_tokenizer(tok, **kw) -> LlamaTokenizer:
    sp = tok.sp
    vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
    specials = [AddedToken(sp.id_to_piece(i), normalized=False, special=True)
                for i in range(sp.get_piece_size()) if sp.is_control(i) and i not in (tok.bos_id, tok.eos_id)]
    return LlamaTokenizer(vocab=vocab, merges=generate_merges(vocab), unk_token=sp.id_to_piece(sp.unk_id()),
                          bos_token=sp.id_to_piece(tok.bos_id), eos_token=sp.id_to_piece(tok.eos_id),
                          additional_special_tokens=specials, **kw)


@pytest.fixture(scope="module")
def hf(tokenizer):
    return hf_tokenizer(tokenizer)


@pytest.mark.parametrize("text", CORPUS)
def test_same_ids_and_text_as_transformers(tokenizer, hf, text):
    ids = tokenizer.encode(text)
    assert ids == hf.encode(text, add_special_tokens=False, split_special_tokens=True)
    assert tokenizer.decode(ids) == hf.decode(ids) == text


@pytest.mark.parametrize("text", [t for t in CORPUS if t] + LEADING_SPACE + ["▁literal ▁ pieces"])
def test_exactly_transformers_with_sentencepiece_dummy_prefix(tokenizer, text):
    """Sentencepiece's dummy prefix is one space put in front of any non-empty text:
    transformers without its own prefix space, given " " + text, matches us everywhere."""
    no_prefix = hf_tokenizer(tokenizer, add_prefix_space=False)
    assert tokenizer.encode(text) == no_prefix.encode(" " + text, add_special_tokens=False,
                                                      split_special_tokens=True)


@pytest.mark.parametrize("text", LEADING_SPACE)
def test_transformers_drops_a_leading_space_we_keep(tokenizer, hf, text):
    ids = tokenizer.encode(text)
    assert tokenizer.decode(ids) == text
    theirs = hf.encode(text, add_special_tokens=False)
    assert theirs != ids and hf.decode(theirs) == text[1:]


def test_special_tokens_typed_in_text_stay_text(tokenizer, hf):
    text = "hi <s> there </s> <|assistant|>"
    special = {tokenizer.bos_id, tokenizer.eos_id, tokenizer.roles["assistant"]}
    assert not special & set(tokenizer.encode(text))
    assert special <= set(hf.encode(text, add_special_tokens=False))  # transformers' default parses them


def test_decode_drops_control_tokens_like_skip_special_tokens(tokenizer, hf):
    ids = [tokenizer.bos_id, *tokenizer.encode("Hello 世界"), tokenizer.roles["end"], tokenizer.eos_id]
    assert tokenizer.decode(ids) == hf.decode(ids, skip_special_tokens=True) == "Hello 世界"


def test_our_build_is_what_from_pretrained_converts(tokenizer, hf, tmp_path):
    pytest.importorskip("google.protobuf", reason="transformers' sentencepiece converter needs protobuf")
    (tmp_path / "tokenizer.model").write_bytes(tokenizer.path.read_bytes())
    converted = LlamaTokenizer.from_pretrained(tmp_path)
    for text in CORPUS + LEADING_SPACE:
        for split in (False, True):
            assert converted.encode(text, add_special_tokens=False, split_special_tokens=split) == \
                hf.encode(text, add_special_tokens=False, split_special_tokens=split)
