"""The feature platform wired as ``bot.runtime`` wires it, over a test database and model.

``Community`` loads the archive and memory features with ``load_features`` and the chat
feature with a test clock and edit interval, so tests drive the real pipeline. A
``RecordingPoster`` stands in for the posting port (the network boundary).
"""

from bot.config import load_settings
from bot.core.feature import Features, load_features
from bot.core.posting import Posted
from bot.features import chat as chat_feature
from bot.runtime import make_services
from tests.bot.recorder import next_id

BOT = 1


def settings(**env):
    base = {"MEMBER_COOLDOWN_S": "0", "MAX_NEW_TOKENS": "8", "ANSWER_CHANNELS": "support"}
    return load_settings(env_file=None, environ=base | env)


class RecordingPoster:
    def __init__(self):
        self.calls = []

    async def send(self, target, reply):
        posted = Posted(next_id(), getattr(target, "channel_id", 0), BOT, reply.text, 0)
        self.calls.append(("send", target, reply))
        return posted

    async def edit(self, target, message_id, reply):
        self.calls.append(("edit", target, message_id, reply))

    async def delete(self, target, message_id):
        self.calls.append(("delete", target, message_id))

    async def history(self, target, limit=50):
        return [call[2] for call in self.calls if call[0] == "send" and call[1] == target][:limit]

    async def create_event(self, event):
        self.calls.append(("event", event))
        return next_id()

    async def update_event(self, guild_id, event_id, *, start=None, end=None, cancel=False):
        self.calls.append(("update_event", event_id, start, end, cancel))


class Community:
    def __init__(self, db, model, *, clock=None, edit_interval=0.0, bot_user_id=BOT, **env):
        self.settings = settings(**env)
        self.poster = RecordingPoster()
        self.services = make_services(self.settings, db, model, self.poster, bot_user_id=bot_user_id,
                                      bot_name="bot")
        loaded = load_features(["archive", "memory"], self.services)
        options = {"edit_interval": edit_interval} | ({"clock": clock} if clock else {})
        feature, self.chat = chat_feature.build(self.services, **options)
        self.pipeline.add(feature.name, feature.hooks, feature.on_edit, feature.on_delete,
                          feature.guards)
        self.features = Features([*loaded.features, feature])

    @property
    def pipeline(self):
        return self.services.pipeline

    @property
    def writer(self):
        return self.services.writer

    async def on_message(self, msg, out):
        await self.pipeline.on_message(msg, out)

    async def close(self):
        self.pipeline.close()
        await self.features.stop()
        await self.writer.close()


class ScriptedModel:
    """A model that says what the test scripts, and records every prompt."""

    context_window = 4096

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests = []

    def count_tokens(self, text):
        return len(text) // 4 + 1

    def count_prompt(self, messages):
        return sum(self.count_tokens(text) for _, text in messages) + 4

    async def complete(self, request):
        self.requests.append(request)
        return self.answers.pop(0)

    async def stream(self, request):
        self.requests.append(request)
        yield self.answers.pop(0)

    async def close(self, drain_timeout=10.0):
        pass


class ScriptedClassifier:
    """Stands in for the sentiment model (which takes seconds to load): a few words decide,
    and every call is recorded, so tests see what was classified and in which batches."""

    NEGATIVE = ("broken", "awful", "terrible", "never arrived", "refund", "angry", "worst")
    POSITIVE = ("love", "great", "perfect", "thanks", "amazing")

    def __init__(self):
        self.batches = []

    def __call__(self):  # the loader: the runtime calls it once, on the classifier's thread
        return self

    def classify(self, texts):
        self.batches.append(list(texts))
        if any("POISON" in t for t in texts):
            raise ValueError("a text this classifier cannot take")
        out = []
        for text in texts:
            t = text.lower()
            label = ("negative" if any(w in t for w in self.NEGATIVE) else
                     "positive" if any(w in t for w in self.POSITIVE) else "neutral")
            scores = {k: 0.8 if k == label else 0.1 for k in ("negative", "neutral", "positive")}
            out.append((label, scores))
        return out
