"""Questions whose answer has a shape: a phone number, a street address, measurements, a
weight, or one member's own order.

An entry can share most of a question's words and still not answer it: "what's the phone
number of the Portland studio" and the studio's opening hours, "what are the dimensions
of the blanket" and the blanket's description. When a question asks for a fact of one of
these kinds, the entries it would be answered from must hold one (a run of digits shaped
like a phone number, a number and a street word, a number with a length or weight unit);
if they do not, the honest answer is the decline. A question about one order by its
number ("where is order #4417") is for the team: a knowledge base knows policies, not
parcels.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_KINDS = {
    "phone": (re.compile(r"\b(?:phone|telephone|tel|whatsapp|call you|ring you)\b", re.IGNORECASE),
              re.compile(r"(?<![\w.])\+?\(?\d[\d ().-]{5,}\d(?![\w.])")),
    "address": (re.compile(r"\b(?:(?:street|postal|mailing|physical|full|exact) address|"
                           r"address (?:of|for) (?:the|your|ur)|(?:your|ur) address)\b", re.IGNORECASE),
                re.compile(r"\b\d+[a-z]?,? (?:[A-Z][\w'-]+ ){1,3}(?:St|Street|Ave|Avenue|Rd|Road|Blvd|"
                           r"Boulevard|Ln|Lane|Way|Dr|Drive|Pl|Place|Sq|Square|Ct|Court)\b|"
                           r"\b[\w-]+(?:straße|strasse|str\.|weg|platz|gasse) \d+|\b(?:rue|via|calle) ", re.IGNORECASE)),
    # Not "height" or "measurements" alone: members give their own ("if I give my height").
    "measurements": (re.compile(r"\b(?:dimensions?|width|depth|how wide|how deep|measurements of)\b",
                                re.IGNORECASE),
                     re.compile(r"\d+(?:[.,]\d+)?\s?(?:x\s?\d+(?:[.,]\d+)?\s?)*(?:cm|mm|m|in|inch|inches|"
                                r"ft|feet|metres?|meters?|\")(?!\w)", re.IGNORECASE)),
    "weight": (re.compile(r"\b(?:weigh|weighs|weight of|how heavy)\b", re.IGNORECASE),
               re.compile(r"\d+(?:[.,]\d+)?\s?(?:g|kg|grams?|kilos?|oz|ounces?|lbs?|pounds)(?!\w)", re.IGNORECASE)),
}
_ORDER_NUMBER = re.compile(r"#\s?\d{3,}|\border\s*(?:no\.?|number|num)?\s*\d{4,}", re.IGNORECASE)
_STATUS = re.compile(r"\b(?:where|when|status|arrive|arrived|arriving|shipped|dispatched|tracking|"
                     r"track|delivered|update)\b", re.IGNORECASE)


def unanswered_kind(question: str, entry_texts: Iterable[str]) -> str | None:
    """The kind of fact ``question`` asks for that none of the entries holds, if any;
    ``order`` for a question about one order's whereabouts."""
    if _ORDER_NUMBER.search(question) and _STATUS.search(question):
        return "order"
    texts = list(entry_texts)
    for kind, (asks, shape) in _KINDS.items():
        if asks.search(question) and not any(shape.search(t) for t in texts):
            return kind
    return None
