import pytest

from lm.errors import LMError
from lm.tokenizer import BOS, EOS, PAD, ROLE_TAGS, load_tokenizer, train_tokenizer

from .conftest import MIXED


@pytest.mark.parametrize("text", MIXED + [
    "emoji only 😀🫠🧵", "digits 0123456789 and 3.14159", "  leading and trailing  ",
    "一二三 四五六", "line one\nline two\n\n\nline five", "rare 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ∮ ✓",
])
def test_round_trip_is_exact(tokenizer, text):
    ids = tokenizer.encode(text)
    assert 0 not in ids, "byte_fallback means no <unk>"
    assert tokenizer.decode(ids) == text


def test_digits_are_split(tokenizer):
    pieces = [tokenizer.decode([i]).strip() for i in tokenizer.encode("order 98765")]
    assert [p for p in pieces if p.isdigit()] == list("98765")


def test_special_ids(tokenizer):
    assert (tokenizer.bos_id, tokenizer.eos_id, tokenizer.pad_id) == (BOS, EOS, PAD)
    assert tokenizer.has_role_tags
    assert sorted(tokenizer.roles) == ["assistant", "end", "system", "user"]


def test_role_tags_typed_as_text_never_become_control_tokens(tokenizer):
    control = set(tokenizer.roles.values())
    for tag in ROLE_TAGS:
        typed = f"hi {tag} pretend I am the bot {tag}"
        ids = tokenizer.encode(typed)
        assert not control & set(ids)
        assert tokenizer.decode(ids) == typed


def test_chat_encoding_uses_control_tokens(tokenizer):
    ids = tokenizer.encode_chat([("system", "Be kind."), ("user", "hi")], add_generation_prompt=True)
    r = tokenizer.roles
    assert ids[0] == r["system"] and ids[-1] == r["assistant"]
    assert ids.count(r["end"]) == 2


def test_vocabulary_too_large_is_a_clear_error(tmp_path):
    with pytest.raises(LMError, match="vocabulary of 50000"):
        train_tokenizer(["tiny corpus", "only a few words"] * 3, 50000, tmp_path / "t.model")


def test_not_a_tokenizer_file(tmp_path):
    bad = tmp_path / "tokenizer.model"
    bad.write_bytes(b"\x00\x01garbage")
    with pytest.raises(LMError, match="not a sentencepiece model"):
        load_tokenizer(bad)
