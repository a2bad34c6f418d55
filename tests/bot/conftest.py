"""Fixtures: real SQLite files in tmp_path, and one tiny real model shared by the session.

The model is random-init (no training: the bot tests check plumbing, not prose), with a
real sentencepiece tokenizer that has our chat role tags, saved and loaded through the
same `lm.checkpoint` path a trained model takes.
"""

from pathlib import Path

import pytest
import pytest_asyncio
import torch

from bot.model import LocalModel
from bot.store import Archive, Database
from lm.checkpoint import save_model
from lm.clean import document_text, load_corpus
from lm.model import Llama, ModelConfig
from lm.tokenizer import load_tokenizer, train_tokenizer

CONTEXT = 256


@pytest_asyncio.fixture
async def db(tmp_path):
    database = await Database.open(tmp_path / "bot.db")
    yield database
    await database.close()


@pytest_asyncio.fixture
async def archive(db):
    return Archive(db)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tiny_model")
    texts = [document_text(doc) for doc in load_corpus(["chitchat"], limit=300)]
    tok_path = train_tokenizer(texts, 512, out / "tokenizer.model")
    torch.manual_seed(0)
    model = Llama(ModelConfig(vocab_size=512, hidden_size=48, intermediate_size=96,
                              num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                              max_position_embeddings=CONTEXT))
    model.init_weights()
    # A random model may end an answer at its first token (a stop token among the top 50
    # it samples from), which would make tests that watch an answer stream depend on the
    # worker's random seed. A zero logit sits mid-distribution, out of the top 50.
    tok = load_tokenizer(tok_path)
    with torch.no_grad():
        model.lm_head.weight[[tok.eos_id, *tok.roles.values()]] = 0.0
    save_model(model, tok_path, out)
    return out


@pytest_asyncio.fixture
async def local_model(tiny_model_dir):
    model = LocalModel.load(tiny_model_dir, device="cpu")
    yield model
    await model.close()


@pytest.fixture(scope="session")
def tiny_sentiment_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """A real sentiment classifier on the tiny model, for console runs that would otherwise
    import SmolLM2 for the bundled head (seconds each): same code path, a cheap backbone."""
    from lm.classify import train_classifier

    texts = ["love it, great", "awful, it broke", "it arrived today"] * 10
    labels = ["positive", "negative", "neutral"] * 10
    out = tmp_path_factory.mktemp("tiny_sentiment")
    train_classifier(tiny_model_dir, texts, labels, out)
    return out
