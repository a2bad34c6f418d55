"""How a member's words meet the shop's: other spellings, dictionary forms, everyday
synonyms and shopping idioms.

A member writes "pants", "sent", "color" or "send it back" where a shop writes "trousers",
"send", "colour" and "return". Retrieval (``retrieval.Retriever.terms``) tries these in
turn on a word the shop does not use, before guessing a typo. None of it is any one
shop's vocabulary: it is general shopping English.
"""

from __future__ import annotations

import functools
import re

# Shopping idioms whose words say less than they mean: each is one term, held by the word
# a shop writes for it or by the idiom's own (a shop may write "send it back" too).
IDIOMS = tuple((re.compile(pattern, re.IGNORECASE), word, frozenset(own)) for pattern, word, own in (
    (r"\bsend(?:ing)? (?:it |them |this |that |these |those |stuff |things )?back\b", "return", ("send",)),
    (r"\b(?:get|have|want) (?:my |our |the )?money back\b", "refund", ("money",)),
    (r"\bback in stock\b", "restock", ("stock",)),
    (r"\bsend (?:me |us )?(?:a )?(?:new|another) (?:one|pair)\b", "replacement", ("replace",)),
    (r"\b(?:goes|go|gone|went|sent|send) out\b", "ship", ("dispatch",)),
    (r"\b(?:has ?n[o']?t|have ?n[o']?t|never|not|still not) (?:come|came|arrived|turned up|shown up)\b",
     "arrived", ()),
))
# Everyday shopping words with one meaning and two spellings or names; each group is
# tried whole when the shop uses another member of it. Not any shop's vocabulary.
SYNONYMS = [
    {"trousers", "pants", "slacks"}, {"sweater", "jumper", "pullover"}, {"colour", "color"},
    {"colours", "colors"}, {"shipping", "delivery", "postage"}, {"ship", "deliver", "send", "post"},
    {"refund", "reimburse"}, {"exchange", "swap"}, {"tee", "tshirt"}, {"hoodie", "hoody", "sweatshirt"},
    {"email", "mail"}, {"shop", "store"}, {"purchase", "order", "buy"},
    {"cancel", "cancellation"}, {"clothes", "clothing", "garments"},
    {"wash", "launder", "clean"}, {"size", "sizing", "fit", "dimensions", "measurements"},
    {"weight", "weigh", "weighs", "heavy"}, {"scent", "smell", "fragrance", "aroma"}, {"coupon", "voucher", "code"},
    {"sneakers", "trainers"}, {"parcel", "package", "shipment"},
    {"international", "intl", "abroad", "overseas"},
    {"centre", "center"}, {"favourite", "favorite"}, {"grey", "gray"}, {"jacket", "coat"},
    {"fabric", "material", "textile"}, {"person", "human", "staff", "agent"},
    {"contact", "talk", "speak", "reach"}, {"reply", "respond", "answer"}, {"cart", "basket"},
    {"pyjamas", "pajamas", "pjs", "sleepwear", "nightwear"},
]
SYNONYM_GROUPS = {word: group for group in map(frozenset, SYNONYMS) for word in group}
# Chat shorthand, read as the word it stands for before anything else: "ppl" is no rare
# word the shop lacks, it is "people".
SHORTHAND = {"ppl": "people", "tmrw": "tomorrow", "tmr": "tomorrow", "tmrow": "tomorrow",
             "bday": "birthday", "pic": "photo", "pics": "photos", "msg": "message",
             "convo": "conversation", "xmas": "christmas", "wk": "week", "wks": "weeks",
             "hrs": "hours", "hr": "hour", "mins": "minutes", "yr": "year", "yrs": "years",
             "gf": "girlfriend", "bf": "boyfriend"}  # not "min" (minimum?) or "prob" (problem?)
_SHORTHAND = re.compile(r"\b(?:" + "|".join(SHORTHAND) + r")\b", re.IGNORECASE)


def unabbreviated(text: str) -> str:
    """``text`` with its chat shorthand written out."""
    return _SHORTHAND.sub(lambda m: SHORTHAND[m.group().lower()], text)


_SPELLINGS = (("our", "or"), ("or", "our"), ("re", "er"), ("er", "re"), ("ise", "ize"),
              ("ize", "ise"), ("yse", "yze"), ("yze", "yse"), ("ogue", "og"), ("og", "ogue"),
              ("ll", "l"), ("l", "ll"))


def spellings(word: str) -> list[str]:
    """British and American spellings of ``word`` (one suffix or inner "our"/"or" swap)."""
    out = [word[: -len(a)] + b for a, b in _SPELLINGS if word.endswith(a) and len(word) > len(a) + 2]
    out += [word.replace(a, b, 1) for a, b in (("our", "or"), ("or", "our")) if a in word[1:]]
    return [w for w in dict.fromkeys(out) if w != word]


@functools.lru_cache(maxsize=16_384)
def lemmas(word: str) -> tuple[str, ...]:
    """The dictionary forms of an inflected English word ("sent" -> "send", "bigger" ->
    "big"; ``lemminflect``'s tables), other than the word itself."""
    from lemminflect import getAllLemmas

    return tuple(dict.fromkeys(form for forms in getAllLemmas(word).values() for form in forms
                               if form != word))
