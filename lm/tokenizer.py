"""sentencepiece BPE, set up the way Llama sets it up, plus our chat role tags.

- byte_fallback: any character outside the vocabulary becomes its UTF-8 bytes, so there
  is never an `<unk>` and emoji or rare CJK round-trip exactly.
- identity normalisation: the default NFKC rule would rewrite full-width text.
- split_digits: numbers (sizes, order ids, prices) tokenize digit by digit, consistently.
- Role tags are *control* symbols: encoding raw text can never produce them, so a member
  who types `<|assistant|>` cannot forge a turn.

`encode` is sentencepiece itself, which is what Llama-family checkpoints were trained with.
transformers 5's `LlamaTokenizer` (a `tokenizers` BPE converted from the same .model, the only
Llama tokenizer class left) gives the same ids with two differences, pinned by
tests/lm/test_tokenizer_parity.py:
- it turns `<s>`, `</s>`, `<unk>` and control symbols typed in the text into their special
  ids unless called with `split_special_tokens=True`; we never do, for the reason above;
- when the text starts with a space it skips sentencepiece's dummy-prefix space (" x"
  becomes "▁x", not "▁", "▁x"), and its decode then drops that space. We keep
  sentencepiece's behaviour: for any non-empty text ours equals transformers' encoding of
  " " + text with its own prefix space turned off.
`decode` drops control tokens, like transformers' `skip_special_tokens=True`. A literal
U+2581 ("▁") in the text decodes as a space, in both.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable

import sentencepiece as spm

from .errors import LMError

ROLE_TAGS = ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>")
UNK, BOS, EOS, PAD = 0, 1, 2, 3


def train_tokenizer(texts: Iterable[str], vocab_size: int, out_file: Path,
                    max_sentences: int = 2_000_000) -> Path:
    proto = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(texts), model_writer=proto,
            model_type="bpe", vocab_size=vocab_size,
            byte_fallback=True, split_digits=True,
            normalization_rule_name="identity",
            remove_extra_whitespaces=False, allow_whitespace_only_pieces=True,
            add_dummy_prefix=True, character_coverage=0.9995,
            max_sentence_length=1 << 16,
            input_sentence_size=max_sentences, shuffle_input_sentence=True,
            unk_id=UNK, bos_id=BOS, eos_id=EOS, pad_id=PAD,
            control_symbols=list(ROLE_TAGS),
            num_threads=2, minloglevel=2,
        )
    except RuntimeError as e:
        msg = str(e).split("] ")[-1]
        if "Vocabulary size" in msg:
            raise LMError(f"vocabulary of {vocab_size} is too large for this corpus "
                          f"or too small for its characters: {msg}") from None
        raise LMError(f"tokenizer training failed: {msg}") from None
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_bytes(proto.getvalue())
    return out_file


class Tokenizer:
    """A thin wrapper that knows the special ids and the role tags."""

    def __init__(self, path: Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise LMError(f"tokenizer file {self.path} does not exist")
        self.sp = spm.SentencePieceProcessor()
        try:
            self.sp.load(str(self.path))
        except (RuntimeError, OSError) as e:
            raise LMError(f"{self.path} is not a sentencepiece model ({e})") from None
        self.bos_id, self.eos_id = self.sp.bos_id(), self.sp.eos_id()
        self.pad_id = self.sp.pad_id()
        self.roles = {tag[2:-2]: self.control_id(tag) for tag in ROLE_TAGS
                      if self.control_id(tag) is not None}

    def control_id(self, piece: str) -> int | None:
        """The id of `piece` when it is a control symbol here (text can never produce it)."""
        i = self.sp.piece_to_id(piece)
        return i if self.sp.id_to_piece(i) == piece and self.sp.is_control(i) else None

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    @property
    def has_role_tags(self) -> bool:
        return len(self.roles) == len(ROLE_TAGS)

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text)

    def decode(self, ids: list[int]) -> str:
        return self.sp.decode(ids)

    def encode_chat(self, messages: Iterable[tuple[str, str]],
                    add_generation_prompt: bool = False) -> list[int]:
        """Our own chat format: <|role|> content <|end|> ..., tags as control tokens."""
        if not self.has_role_tags:
            raise LMError(f"{self.path} has no role tags; this model needs a chat template")
        ids: list[int] = []
        for role, content in messages:
            ids += [self.roles[role], *self.encode(content), self.roles["end"]]
        if add_generation_prompt:
            ids.append(self.roles["assistant"])
        return ids
