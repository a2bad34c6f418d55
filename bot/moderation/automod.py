"""Automod's verdict on one message's content: which rules it breaks and what to do.

``Automod.check`` runs the content rules (``rules``) and the toxicity classifier
(``toxicity``) with one guild's settings (``config``). The classifier is the only part
that costs more than microseconds, so a batch of messages is scored in one call, off the
event loop (``check_many`` in a worker thread).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from bot.moderation import toxicity
from bot.moderation.config import CONTENT, RuleSet
from bot.moderation.rules import check_content


@dataclass(frozen=True)
class Verdict:
    text: str
    rules: dict[str, str]        # rule name -> what it found
    actions: tuple[str, ...]     # the union of the hit rules' actions, in a fixed order

    @property
    def flagged(self) -> bool:
        return bool(self.rules)

    def as_json(self) -> dict:
        return {"text": self.text, "flagged": self.flagged, "rules": list(self.rules),
                "actions": list(self.actions)}


ACTION_ORDER = ("delete", "warn", "timeout", "flag")


class Automod:
    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules

    def check_many(self, texts: Sequence[str], *, only: Sequence[str] = CONTENT) -> list[Verdict]:
        """Verdicts for each text under the enabled rules named in ``only``."""
        enabled = {name: self.rules[name] for name in only
                   if name in self.rules and self.rules[name].enabled}
        params = {name: rule.params for name, rule in enabled.items() if name != "toxicity"}
        tox = enabled.get("toxicity")
        scores = toxicity.scores(list(texts)) if tox else [0.0] * len(texts)
        verdicts = []
        for text, score in zip(texts, scores):
            found = check_content(text, params)
            if tox and score >= tox.params["threshold"]:
                found["toxicity"] = f"toxicity {score:.2f}"
            actions = {a for name in found for a in enabled[name].actions}
            verdicts.append(Verdict(text, found, tuple(a for a in ACTION_ORDER if a in actions)))
        return verdicts

    def check(self, text: str) -> Verdict:
        return self.check_many([text])[0]

    async def check_async(self, texts: Sequence[str], **kw) -> list[Verdict]:
        return await asyncio.to_thread(self.check_many, texts, **kw)
