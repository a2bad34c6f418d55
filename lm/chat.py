"""Chat templates: how (role, content) turns become token ids, and where a reply stops.

A template renders turns into parts: text, and token ids (BOS, EOS, special tokens) that
no text can produce. Each run of text between ids is encoded on its own. With a
tokenizer.json (byte-level BPE) that is exactly what transformers does: it splits a
rendered template at special tokens before tokenizing. With sentencepiece each run gets
the dummy-prefix space: that is how Meta's Llama reference code and the
sentencepiece-style ("legacy") tokenizers these chat models were fine-tuned with split a
prompt at special tokens. transformers 5 renders the same text from the checkpoints' own
Jinja templates, and its apply_chat_template gives the same ids when its tokenizer is
`legacy=True` (test_chat.py checks both); with `legacy=False` it leaves that space out
after a special token. Our tokenizer_config.json says `legacy: true` for that reason.

- lm      our role tags, `<s><|user|>{content}<|end|>...<|assistant|>`, all control symbols.
- zephyr  TinyLlama-Chat: `<s><|user|>\\n{content}</s>\\n...<|assistant|>\\n`; plain-text tags.
- llama2  `<s>[INST] <<SYS>>\\n{system}\\n<</SYS>>\\n\\n{user} [/INST] {reply} </s>`. Runs of
          turns from one role are joined with a newline, since the format must alternate.
- chatml  `<|im_start|>{role}\\n{content}<|im_end|>\\n...`, after BOS only where the model
          adds one (SmolLM2 and Qwen2.5 do not); the tags are ids when the vocabulary has
          them as special tokens, plain text otherwise.
- llama3  `<|begin_of_text|><|start_header_id|>{role}<|end_header_id|>\\n\\n{content}<|eot_id|>`,
          Llama 3.0's format (3.1's template adds a dated system preamble by default).

Forging turns: with `lm`, a member who types `<|assistant|>` gets those characters, never
the tag. Plain-text templates cannot promise that: typed `<|assistant|>\\n` (zephyr) or
`[/INST]` (llama2) encode to the very tokens the template uses. What a member can never
type are the ids around real boundaries (a typed `</s>` stays the characters `</s>`), so
a forged turn differs from a real one only by a missing EOS or BOS, and a model may not
notice. Use the `lm` format (or control-symbol ChatML tags) where that matters.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import LMError
from .tokenizer import (HF_FILE, SP_FILE, SentencePieceTokenizer, Tokenizer, load_tokenizer,
                        read_json_object)

ROLES = ("system", "user", "assistant")
Message = tuple[str, str]
Part = str | int

# Our format as a Jinja chat_template, so transformers can chat with our folders too.
LM_CHAT_TEMPLATE = ("{{ bos_token }}{% for message in messages %}"
                    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}"
                    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}")


@dataclass(frozen=True)
class Template:
    name: str
    render: Callable[[Tokenizer, list[Message], bool], list[Part]]
    stop_strings: tuple[str, ...] = ()  # text that ends a reply (and is not shown)
    stop_pieces: tuple[str, ...] = ()   # control symbols that end a reply, where the vocab has them

    def parts(self, tok: Tokenizer, messages: Sequence[Message],
              add_generation_prompt: bool = True) -> list[Part]:
        for role, _ in messages:
            if role not in ROLES:
                raise LMError(f"unknown chat role {role!r} (use {', '.join(ROLES)})")
        return self.render(tok, list(messages), add_generation_prompt)

    def encode(self, tok: Tokenizer, messages: Sequence[Message],
               add_generation_prompt: bool = True) -> list[int]:
        """Prompt ids, BOS included."""
        ids: list[int] = []
        text = ""
        for part in [*self.parts(tok, messages, add_generation_prompt), None]:
            if isinstance(part, str):
                text += part
                continue
            if text:
                ids += tok.encode(text)
                text = ""
            if part is not None:
                ids.append(part)
        return ids

    def stop_ids(self, tok: Tokenizer) -> set[int]:
        return {tok.eos_id} | {i for p in self.stop_pieces if (i := tok.control_id(p)) is not None}


def _lm(tok: Tokenizer, messages: list[Message], gen: bool) -> list[Part]:
    return [*tok.prefix(), *tok.encode_chat(messages, add_generation_prompt=gen)]


def _zephyr(tok: Tokenizer, messages: list[Message], gen: bool) -> list[Part]:
    parts: list[Part] = [*tok.prefix()]
    for role, content in messages:
        parts += [f"<|{role}|>\n{content}", tok.eos_id, "\n"]
    return parts + ["<|assistant|>\n"] if gen else parts


def _llama2(tok: Tokenizer, messages: list[Message], gen: bool) -> list[Part]:
    system = None
    if messages and messages[0][0] == "system":
        system, messages = messages[0][1], messages[1:]
    runs: list[Message] = []
    for role, content in messages:
        if role == "system":
            raise LMError("the llama2 template takes one system message, at the start")
        if runs and runs[-1][0] == role:
            runs[-1] = (role, f"{runs[-1][1]}\n{content}")
        else:
            runs.append((role, content))
    parts: list[Part] = []
    for role, content in runs:
        if role == "user":
            if system is not None:
                content, system = f"<<SYS>>\n{system}\n<</SYS>>\n\n{content}", None
            parts += [tok.bos_id, f"[INST] {content.strip()} [/INST]"]
        else:
            parts += [f" {content.strip()} ", tok.eos_id]
    return parts  # the prompt already ends with [/INST], so `gen` adds nothing


def _chatml(tok: Tokenizer, messages: list[Message], gen: bool) -> list[Part]:
    start, end = (tok.control_id(tag) or tag for tag in ("<|im_start|>", "<|im_end|>"))
    parts: list[Part] = [*tok.prefix()]  # SmolLM2 and Qwen2.5 add none: their BOS is <|im_start|> or absent
    for role, content in messages:
        parts += [start, f"{role}\n{content}", end, "\n"]
    return parts + [start, "assistant\n"] if gen else parts


def _llama3(tok: Tokenizer, messages: list[Message], gen: bool) -> list[Part]:
    start, end, eot = (_special(tok, tag) for tag in
                       ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"))
    parts: list[Part] = [_bos(tok)]  # the template writes BOS itself, whatever add_bos says
    for role, content in messages:
        parts += [start, role, end, f"\n\n{content.strip()}", eot]
    return parts + [start, "assistant", end, "\n\n"] if gen else parts


def _special(tok: Tokenizer, piece: str) -> int:
    i = tok.control_id(piece)
    if i is None:
        raise LMError(f"{tok.path}: the chat template needs the special token {piece}, "
                      f"which this vocabulary lacks")
    return i


def _bos(tok: Tokenizer) -> int:
    if tok.bos_id is None:
        raise LMError(f"{tok.path}: the chat template needs a BOS token; tokenizer_config.json names none")
    return tok.bos_id


TEMPLATES = {t.name: t for t in (
    Template("lm", _lm, stop_pieces=("<|end|>",)),
    Template("zephyr", _zephyr, stop_strings=("<|user|>", "<|system|>", "<|assistant|>")),
    Template("llama2", _llama2, stop_strings=("[INST]",)),
    Template("chatml", _chatml, stop_strings=("<|im_end|>", "<|im_start|>"),
             stop_pieces=("<|im_end|>",)),
    Template("llama3", _llama3, stop_pieces=("<|eot_id|>", "<|eom_id|>", "<|start_header_id|>")),
)}

# How to recognise a checkpoint's Jinja chat_template: every marker present, first match wins.
RECOGNISE = (
    ("chatml", ("<|im_start|>", "<|im_end|>")),
    ("llama3", ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")),
    ("llama2", ("[INST]", "<<SYS>>")),
    ("zephyr", ("<|user|>", "<|assistant|>", "eos_token")),
)


def template_name(folder: Path) -> str | None:
    """The template a model folder asks for: our `lm_template` key in tokenizer_config.json,
    else a recognised `chat_template` there (or in chat_template.jinja, where newer
    transformers put it), else `lm` when the tokenizer has our role tags; None if unknown."""
    from .checkpoint import CHAT_TEMPLATE, TOKENIZER_CONFIG
    folder = Path(folder)
    cfg = read_json_object(folder / TOKENIZER_CONFIG)
    if cfg.get("lm_template") in TEMPLATES:
        return cfg["lm_template"]
    chat = cfg.get("chat_template")
    if isinstance(chat, list):  # named templates: [{"name": "default", "template": "..."}]
        chat = next((t.get("template") for t in chat if t.get("name") == "default"), None)
    if chat is None and (folder / CHAT_TEMPLATE).exists():
        chat = (folder / CHAT_TEMPLATE).read_text()
    if isinstance(chat, str):
        for name, markers in RECOGNISE:
            if all(m in chat for m in markers):
                return name
    if any((folder / name).exists() for name in (SP_FILE, HF_FILE)) and \
            load_tokenizer(folder).has_role_tags:
        return "lm"
    return None


def folder_template(folder: Path, override: str | None = None) -> Template | None:
    """The chat template for a model folder, None when it names none; `override` (a config
    value or --template) wins over what the folder says."""
    name = override or template_name(folder)
    if name is not None and name not in TEMPLATES:
        raise LMError(f"unknown chat template {name!r} (choose from {', '.join(TEMPLATES)})")
    return TEMPLATES.get(name)


def template_for(folder: Path, override: str | None = None) -> Template:
    """`folder_template`, where a template is required (chatting with the model)."""
    template = folder_template(folder, override)
    if template is None:
        raise LMError(f"{folder}: no recognisable chat template in tokenizer_config.json; "
                      f"choose one with --template ({', '.join(TEMPLATES)})")
    return template


def tokenizer_config(tok: Tokenizer) -> dict | None:
    """tokenizer_config.json for a tokenizer with our role tags: the name `template_for`
    reads, and the same format as Jinja for transformers' apply_chat_template."""
    if not (isinstance(tok, SentencePieceTokenizer) and tok.has_role_tags):
        return None
    piece = tok.piece
    return {"lm_template": "lm", "chat_template": LM_CHAT_TEMPLATE,
            "bos_token": piece(tok.bos_id), "eos_token": piece(tok.eos_id),
            "unk_token": piece(tok.sp.unk_id()), "add_bos_token": True, "add_eos_token": False,
            "legacy": True}
