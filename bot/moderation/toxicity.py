"""The toxicity rule: ``alt-profanity-check``'s classifier (a linear SVM over word n-grams
that its wheel ships, run offline), on the message as ``normalize`` reads it, so "f u c k"
and "sh1t" are scored as the words they spell.

Toxicity models over-flag harmless messages that name an identity group ("as a gay man I
love the fit" scores 0.83 raw), the unintended bias Jigsaw measured. So the words that
name a religion, an ethnicity, a sexuality, a disability, a gender or an age are replaced
by one neutral word before scoring: what is said about a group is judged, not the
group's name. Slurs are not identity words here; they stay, and the words rule has them.

The model file is a scikit-learn pickle inside the installed package: it is loaded from
there only, never from a path a user gives.
"""

from __future__ import annotations

import functools

from bot.moderation.normalize import collapse, normalize, stretched

NEUTRAL = "person"
IDENTITY_WORDS = frozenset("""
gay gays lesbian lesbians bisexual bi queer trans transgender transgendered nonbinary enby lgbt
lgbtq lgbtqia homosexual straight heterosexual asexual pansexual intersex
muslim muslims islam islamic jewish jew jews judaism christian christians catholic protestant
hindu hindus sikh sikhs buddhist buddhists atheist atheists mormon orthodox
black blacks white whites asian asians latino latina latinx latine hispanic african arab arabs
indian indigenous native chinese mexican immigrant immigrants refugee refugees
deaf blind disabled disability disabilities wheelchair autistic autism adhd dyslexic
neurodivergent amputee
woman women man men girl girls boy boys female male femme masc
old elderly senior seniors young teen teens teenager boomer
""".split())


@functools.cache
def _model():
    from profanity_check import predict_prob  # loads its packaged model once

    return predict_prob


def masked(text: str) -> str:
    """The normalised text with identity words replaced by ``NEUTRAL``, and a stretched
    word read both ways its runs may shorten ("fuuuck" as "fuck", "offff" as "off")."""
    norm = normalize(text)
    out = []
    for token in norm.tokens + norm.joined:
        if stretched(token):
            out += [collapse(token), _shorten(token)]
        else:
            out.append(NEUTRAL if token in IDENTITY_WORDS else token)
    return " ".join(out)


def _shorten(word: str) -> str:
    """Runs of three or more letters cut to two."""
    return "".join(c for i, c in enumerate(word) if i < 2 or not (c == word[i - 1] == word[i - 2]))


def scores(texts: list[str]) -> list[float]:
    """Probability of each text being abusive, 0..1 (batched: one call for many)."""
    if not texts:
        return []
    return [float(p) for p in _model()([masked(t) for t in texts])]


def raw_scores(texts: list[str]) -> list[float]:
    """The library alone on the text as written: the benchmark's baseline."""
    return [float(p) for p in _model()(list(texts))] if texts else []
