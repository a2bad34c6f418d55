"""Questions whose answer has a shape: a phone number, a street address, measurements, a
weight, a restock date, a quantity the member names, or one member's own order.

An entry can share most of a question's words and still not answer it: "what's the phone
number of the Portland studio" and the studio's opening hours, "what are the dimensions
of the blanket" and the blanket's description. When a question asks for a fact of one of
these kinds, the entries it would be answered from must hold one (a run of digits shaped
like a phone number, a number and a street word, a number with a length or weight unit);
if they do not, the honest answer is the decline. So is one naming a quantity no entry
states ("the blend in a 1 kg bag" where the shop sells 250 g). A question about one order by its
number ("where is order #4417") is for the team: a knowledge base knows policies, not
parcels.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_LENGTH = r"cm|mm|m|in|inch|inches|ft|feet|metres?|meters?|\"|厘米|公分|毫米|米"
_MASS = r"g|kg|grams?|kilos?|oz|ounces?|lbs?|pounds|克|公斤|千克|斤"
# A quantity a member names: not "m", "in" or "l" after a number, which are as often a
# size ("a 10 M", "size 15 in stock").
_AMOUNT = re.compile(r"(?<![\d.,])(\d+(?:[.,]\d+)?)\s?(cm|mm|inch|inches|ft|feet|metres?|meters?|厘米|公分|毫米|"
                     rf"{_MASS}|ml|cl|litres?|liters?|毫升)(?![^\W\d_])", re.IGNORECASE)
_KINDS = {
    "phone": (re.compile(r"\b(?:phone|telephone|tel|whatsapp|call you|ring you)\b|电话|手机号", re.IGNORECASE),
              re.compile(r"(?<![\w.])\+?\(?\d[\d ().-]{5,}\d(?![\w.])")),
    "address": (re.compile(r"\b(?:(?:street|postal|mailing|physical|full|exact) address|"
                           r"address (?:of|for) (?:the|your|ur)|(?:your|ur) address)\b|地址", re.IGNORECASE),
                re.compile(r"\b\d+[a-z]?,? (?:[A-Z][\w'-]+ ){1,3}(?:St|Street|Ave|Avenue|Rd|Road|Blvd|"
                           r"Boulevard|Ln|Lane|Way|Dr|Drive|Pl|Place|Sq|Square|Ct|Court)\b|"
                           r"\b[\w-]+(?:straße|strasse|str\.|weg|platz|gasse|kaai|laan|straat|plein) \d+|"
                           r"\b(?:rue|via|calle) |[路街道巷]\d+号", re.IGNORECASE)),
    # Not "height" or "measurements" alone: members give their own ("if I give my height").
    "measurements": (re.compile(r"\b(?:dimensions?|width|depth|how wide|how deep|measurements of)\b|尺寸",
                                re.IGNORECASE),
                     re.compile(rf"(?<![\d.,x×])\d+(?:[.,]\d+)?\s?(?:[x×]\s?\d+(?:[.,]\d+)?\s?)*(?:{_LENGTH})(?![^\W\d_])",
                                re.IGNORECASE)),
    "date": (re.compile(r"\bwhen\b[^.?!]*\b(?:restock\w*|back in stock|coming back|come back|available again|"
                        r"in stock again)|(?:啥|什么)时候(?:补货|有货|到货)", re.IGNORECASE),
             re.compile(r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)days?\b|\b(?:jan|feb|mar|apr|may|jun|jul|"
                        r"aug|sep|oct|nov|dec)[a-z]*\.? \d|\b\d{1,2}/\d{1,2}\b|\bnext (?:week|month)\b|"
                        r"\d+月|周[一二三四五六日]|星期", re.IGNORECASE)),
    "weight": (re.compile(r"\b(?:weigh|weighs|weight of|how heavy)\b|多重", re.IGNORECASE),
               re.compile(rf"(?<![\d.,])\d+(?:[.,]\d+)?\s?(?:{_MASS})(?![^\W\d_])", re.IGNORECASE)),
}
# A restock date is stated by an entry about stock, not the studio's opening days.
_ABOUT_STOCK = re.compile(r"stock|restock|sold out|available|back|补货|有货|到货|库存|缺货|上新", re.IGNORECASE)
_ORDER_NUMBER = re.compile(r"#\s?\d{3,}|\border\s*(?:(?:no\.?|number|num)\s*)?\d{4,}", re.IGNORECASE)
_STATUS = re.compile(r"\b(?:where|when|status|arrive|arrived|arriving|shipped|dispatched|tracking|"
                     r"track|delivered|update)\b", re.IGNORECASE)


# One spelling per unit, so "250 g" meets "250 grams" and "15 inch" meets "15 inches".
_UNITS = {"inches": "inch", "feet": "ft", "metre": "m", "metres": "m", "meter": "m", "meters": "m",
          "gram": "g", "grams": "g", "kilo": "kg", "kilos": "kg", "ounce": "oz", "ounces": "oz",
          "lbs": "lb", "pounds": "lb", "litre": "l", "litres": "l", "liter": "l", "liters": "l",
          "厘米": "cm", "公分": "cm", "毫米": "mm", "克": "g", "公斤": "kg", "千克": "kg", "毫升": "ml"}
# A quantity a member says about themselves ("I'm 185 cm", "my waist is 32 inches").
_ABOUT_ME = re.compile(r"\b(?:i'?m|i am|my \w+(?: is)?|i weigh|i wear)\s*$", re.IGNORECASE)


def _amounts(text: str, *, member: bool = False) -> set[tuple[float, str]]:
    found = set()
    for match in _AMOUNT.finditer(text):
        if member and _ABOUT_ME.search(text[max(0, match.start() - 20):match.start()]):
            continue
        unit = match.group(2).casefold()
        found.add((float(match.group(1).replace(",", ".")), _UNITS.get(unit, unit)))
    return found


def unanswered_kind(question: str, entry_texts: Iterable[str]) -> str | None:
    """The kind of fact ``question`` asks for that none of the entries holds, if any:
    ``order`` for a question about one order's whereabouts, ``amount`` for a quantity it
    names ("a 1 kg bag", "a 16 inch laptop") that no entry states."""
    if _ORDER_NUMBER.search(question) and _STATUS.search(question):
        return "order"
    texts = list(entry_texts)
    held = set().union(*map(_amounts, texts)) if texts else set()
    if not _amounts(question, member=True) <= held:
        return "amount"  # "the blend in a 1kg bag" where the entries sell 250 g
    for kind, (asks, shape) in _KINDS.items():
        stating = [t for t in texts if _ABOUT_STOCK.search(t)] if kind == "date" else texts
        if asks.search(question) and not any(shape.search(t) for t in stating):
            return kind
    return None
