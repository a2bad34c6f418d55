"""Small real artefacts for the lm tests: a corpus, a tokenizer and a random-init checkpoint.

Everything is built from text the tests write plus the chitchat package, so the suite
runs anywhere; tests that need the shared reviews data ask for `reviews_csv`.
"""
import json
import random
from pathlib import Path

import pytest
import torch

from lm.checkpoint import save_model
from lm.clean import document_text, load_corpus
from lm.model import Llama, ModelConfig
from lm.tokenizer import load_tokenizer, train_tokenizer

MIXED = [
    "Hello there! The linen shirt runs large; I'd size down.",
    "我很喜欢这件连衣裙，质量很好。尺码偏小，建议买大一号。",
    "Ｆｕｌｌ－ｗｉｄｔｈ text and 全角标点：，。！",
    "Order 1234 arrived on 2024-05-01 🎉🎉 thanks! 👍🏽",
    "Price: $49.99, was $120.00 — 58% off.",
    "tabs\tand   spaces\n\nand blank lines",
]


def write_corpus(path: Path, n_chats: int = 300) -> Path:
    """A text file: chitchat turns plus mixed-script lines, one document per block."""
    chats = load_corpus(["chitchat"], limit=n_chats)
    rnd = random.Random(0)
    blocks = [document_text(c) for c in chats] + MIXED * 5
    rnd.shuffle(blocks)
    path.write_text("\n\n".join(b.replace("\n\n", "\n") for b in blocks) + "\n")
    return path


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus") / "corpus.txt")


@pytest.fixture(scope="session")
def tokenizer_path(tmp_path_factory, corpus) -> Path:
    docs = load_corpus([str(corpus)])
    out = tmp_path_factory.mktemp("tok") / "tokenizer.model"
    return train_tokenizer((document_text(d) for d in docs), 640, out)


@pytest.fixture(scope="session")
def tokenizer(tokenizer_path):
    return load_tokenizer(tokenizer_path)


def tiny_config(**kw) -> ModelConfig:
    base = dict(vocab_size=640, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=96)
    return ModelConfig(**(base | kw))


@pytest.fixture
def model_dir(tmp_path, tokenizer_path) -> Path:
    torch.manual_seed(0)
    model = Llama(tiny_config())
    model.init_weights()
    save_model(model, tokenizer_path, tmp_path / "model")
    return tmp_path / "model"


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]
