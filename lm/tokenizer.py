"""Tokenizers: one interface, two implementations, picked by the file a model folder holds.

- `tokenizer.model`: sentencepiece (our own models, Llama 2 and Mistral folders);
- `tokenizer.json`: the `tokenizers` library (Llama 3, Qwen2.5, SmolLM2, Mistral-Nemo).

Both promise the same things: special tokens (BOS, EOS, role tags, ChatML's tags) have
ids that encoding text can never produce, so a member who types `<|im_start|>` or
`<|assistant|>` cannot forge a turn; `decode` drops them; BOS is added only where the
model's tokenizer_config.json (or its post-processor) says so, through `prefix()`.
Streaming stays UTF-8 safe in lm/sample.py's TextStream for both.

Our own tokenizers are sentencepiece BPE, set up the way Llama sets it up, plus our chat
role tags:

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
import json
from abc import ABC, abstractmethod
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


SP_FILE, HF_FILE, CONFIG_FILE = "tokenizer.model", "tokenizer.json", "tokenizer_config.json"


def load_tokenizer(path: Path) -> "Tokenizer":
    """The tokenizer of a model folder (tokenizer.model wins where both exist: it is what
    those models were trained with), or of one tokenizer file; tokenizer_config.json
    beside it says whether BOS is added and which tokens are BOS and EOS."""
    path = Path(path)
    if path.is_dir():
        path = tokenizer_file(path)
        if not path.is_file():
            raise LMError(f"{path.parent} has no {SP_FILE} or {HF_FILE}")
    config = read_json_object(path.parent / CONFIG_FILE)
    if path.name.endswith(".json"):
        return HFTokenizer(path, config)
    return SentencePieceTokenizer(path, config.get("add_bos_token", True))


def tokenizer_file(folder: Path) -> Path:
    """The tokenizer file a folder holds; tokenizer.model (ours, to be trained) if none."""
    folder = Path(folder)
    return next((folder / n for n in (SP_FILE, HF_FILE) if (folder / n).is_file()), folder / SP_FILE)


def read_json_object(path: Path) -> dict:
    """A JSON object file such as tokenizer_config.json; {} when it is absent."""
    if not path.is_file():
        return {}
    try:
        config = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise LMError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(config, dict):
        raise LMError(f"{path} is not a JSON object")
    return config


class Tokenizer(ABC):
    """What the toolkit needs from a tokenizer: text to ids and back, and the special ids."""

    path: Path
    bos_id: int | None
    eos_id: int | None
    pad_id: int | None
    add_bos: bool
    roles: dict[str, int]  # our role tags, where this vocabulary has them as special tokens

    @property
    @abstractmethod
    def vocab_size(self) -> int: ...

    @abstractmethod
    def encode(self, text: str) -> list[int]:
        """Ids for plain text: never a special token, even if the text spells one."""

    @abstractmethod
    def decode(self, ids: list[int]) -> str:
        """Text for ids, special tokens dropped."""

    @abstractmethod
    def control_id(self, piece: str) -> int | None:
        """The id of `piece` when it is a special token here (text can never produce it)."""

    @abstractmethod
    def piece(self, i: int) -> str: ...

    @abstractmethod
    def text_ids(self) -> list[int]:
        """Ids that decode to whole ordinary text on their own: no special, byte or unknown
        tokens (benchmarks build prompts from them)."""

    def prefix(self) -> list[int]:
        """What starts every sequence: BOS where this model adds it, else nothing."""
        return [self.bos_id] if self.add_bos and self.bos_id is not None else []

    def _find_roles(self) -> dict[str, int]:
        return {tag[2:-2]: i for tag in ROLE_TAGS if (i := self.control_id(tag)) is not None}

    @property
    def has_role_tags(self) -> bool:
        return len(self.roles) == len(ROLE_TAGS)

    def encode_chat(self, messages: Iterable[tuple[str, str]],
                    add_generation_prompt: bool = False) -> list[int]:
        """Our own chat format: <|role|> content <|end|> ..., tags as special tokens."""
        if not self.has_role_tags:
            raise LMError(f"{self.path} has no role tags; this model needs a chat template")
        ids: list[int] = []
        for role, content in messages:
            ids += [self.roles[role], *self.encode(content), self.roles["end"]]
        if add_generation_prompt:
            ids.append(self.roles["assistant"])
        return ids


class SentencePieceTokenizer(Tokenizer):
    """sentencepiece, as Llama-family checkpoints were trained with it."""

    def __init__(self, path: Path, add_bos: bool = True):
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
        self.add_bos = bool(add_bos)
        self.roles = self._find_roles()

    def control_id(self, piece: str) -> int | None:
        i = self.sp.piece_to_id(piece)
        return i if self.sp.id_to_piece(i) == piece and self.sp.is_control(i) else None

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text)

    def decode(self, ids: list[int]) -> str:
        return self.sp.decode(ids)

    def piece(self, i: int) -> str:
        return self.sp.id_to_piece(i)

    def text_ids(self) -> list[int]:
        sp = self.sp
        return [i for i in range(self.vocab_size)
                if not (sp.is_control(i) or sp.is_byte(i) or sp.is_unknown(i))]


class HFTokenizer(Tokenizer):
    """A `tokenizers` tokenizer.json (byte-level BPE and the like).

    `encode_special_tokens` makes typed special tokens plain text, the same promise
    sentencepiece's control symbols give; the post-processor's own BOS is never used
    (`prefix()` adds it where the model wants it), so chat templates place every
    special token themselves, as transformers' apply_chat_template does."""

    def __init__(self, path: Path, config: dict | None = None):
        from tokenizers import Tokenizer as Fast
        self.path = Path(path)
        if not self.path.is_file():
            raise LMError(f"tokenizer file {self.path} does not exist")
        try:
            self.tk = Fast.from_file(str(self.path))
        except Exception as e:  # noqa: BLE001  (the library raises plain Exception)
            raise LMError(f"{self.path} is not a tokenizers tokenizer.json ({e})") from None
        self.tk.encode_special_tokens = True
        self.special = {t.content: i for i, t in self.tk.get_added_tokens_decoder().items()
                        if t.special}
        config = config or {}
        self.bos_id, self.eos_id, self.pad_id = (self._config_id(config, key) for key in
                                                 ("bos_token", "eos_token", "pad_token"))
        add_bos = config.get("add_bos_token")
        if add_bos is None:  # no word in the config: whatever the post-processor does
            add_bos = self.bos_id is not None and \
                self.tk.encode("a", add_special_tokens=True).ids[:1] == [self.bos_id]
        self.add_bos = bool(add_bos)
        self.roles = self._find_roles()

    def _config_id(self, config: dict, key: str) -> int | None:
        token = config.get(key)
        if isinstance(token, dict):  # the AddedToken form: {"content": ..., ...}
            token = token.get("content")
        if token is None:
            return None
        i = self.tk.token_to_id(token)
        if i is None:
            raise LMError(f"{self.path.parent / CONFIG_FILE}: {key} {token!r} is not in the vocabulary")
        return i

    @property
    def vocab_size(self) -> int:
        return self.tk.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str) -> list[int]:
        return self.tk.encode(text, add_special_tokens=False).ids

    def decode(self, ids: list[int]) -> str:
        return self.tk.decode(ids, skip_special_tokens=True)

    def control_id(self, piece: str) -> int | None:
        return self.special.get(piece)

    def piece(self, i: int) -> str:
        return self.tk.id_to_token(i)

    def text_ids(self) -> list[int]:
        special = set(self.special.values())
        ids = [i for i in range(self.vocab_size) if i not in special]
        texts = self.tk.decode_batch([[i] for i in ids])
        return [i for i, t in zip(ids, texts) if t and "\ufffd" not in t]
