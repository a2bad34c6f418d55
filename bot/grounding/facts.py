"""The fact check: every checkable fact in a reply must appear in the entries it cites.

Small models restate facts fluently and wrongly (a $34 price for a $128 dress, a made-up
phone number), so a reply is cut into the facts a member would act on and each is looked
up in the cited entries' own text:
  * e-mail addresses and URLs, exactly (case-folded; a URL without its trailing
    punctuation);
  * prices: the amount, written with a currency symbol or code, must be a number of the
    sources (``$128`` meets ``price 128 USD`` or "costs 128.00");
  * durations: a number with a time unit ("30 days", "3 to 5 working days") must occur
    with the same unit ("30 weeks" fails where the sources say "30 days"), or as a bare
    number the sources tie to no unit ("express takes 1 to 2");
  * every other number (order cut-offs, sizes, percentages, phone-number groups), unless
    the check is ``strict=False``, which small talk uses: there only shop facts count
    (prices, durations, percentages, long digit runs, e-mails, URLs, stock claims), so
    "I have 2 favourite colours" is not treated as a claim;
  * stock: "out of stock" or "sold out" needs a cited product that is out of stock (or
    a source that says so), "in stock" one that is in stock.

Numbers written as words ("five working days") are read as digits on both sides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_URL = re.compile(r"(?:https?://|www\.)[^\s<>()\"']+", re.IGNORECASE)
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*")
_SYMBOLS = "$€£¥₹₩"
_PRICE = re.compile(
    rf"[{_SYMBOLS}]\s?(\d+(?:[.,]\d+)*)|(\d+(?:[.,]\d+)*)\s?(?:[{_SYMBOLS}]|元|"
    r"\b(?:usd|eur|gbp|cad|aud|nzd|jpy|cny|rmb|chf|sek|nok|dkk|dollars?|euros?|pounds?|yuan)\b)",
    re.IGNORECASE)
_UNIT = (r"(?:working |business |calendar )?(?P<unit>minute|min|hour|hr|day|week|month|year|"
         r"分钟|小时|天|日|周|星期|个月|月|年)")
DURATION = re.compile(
    rf"(?P<a>\d+(?:[.,]\d+)?)(?:\s*(?:to|-|–|or|至|到|~)\s*(?P<b>\d+(?:[.,]\d+)?))?\s*{_UNIT}",
    re.IGNORECASE)
_PERCENT = re.compile(r"(\d+(?:[.,]\d+)?)\s?(?:%|percent|per cent)", re.IGNORECASE)
_OUT_OF_STOCK = re.compile(r"\b(?:out of stock|sold out|unavailable|not available|not in stock)\b|缺货|售罄|无货",
                           re.IGNORECASE)
_IN_STOCK = re.compile(r"(?<!not )\bin stock\b|有货|现货", re.IGNORECASE)
_UNIT_NAMES = {"min": "minute", "hr": "hour", "分钟": "minute", "小时": "hour", "天": "day",
               "日": "day", "周": "week", "星期": "week", "个月": "month", "月": "month", "年": "year"}
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty".split())}
_NUMBER_WORDS |= {"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "ninety": "90",
                  "hundred": "100", "a dozen": "12", "a week": "1 week", "a day": "1 day",
                  "a month": "1 month", "a year": "1 year", "an hour": "1 hour"}
_WORDS_RE = re.compile(r"\b(" + "|".join(sorted(map(re.escape, _NUMBER_WORDS), key=len, reverse=True))
                       + r")\b", re.IGNORECASE)
LONG_DIGITS = 6  # a run this long (a phone number, an order id) is a fact even in small talk


@dataclass(frozen=True)
class Source:
    """What a reply may state: one cited entry's text, and its stock state if a product."""

    text: str
    in_stock: bool | None = None


@dataclass(frozen=True)
class Unsupported:
    kind: str   # email, url, price, duration, number, percent, stock
    value: str

    def __str__(self) -> str:
        return f"{self.kind} {self.value!r}"


def _digits(text: str) -> str:
    return _WORDS_RE.sub(lambda m: _NUMBER_WORDS[m[1].lower()], text)


def _number(raw: str) -> str:
    """A number's value as text: thousands separators dropped, trailing zeros cut
    ("1,200" -> "1200", "128.00" -> "128", "24,50" -> "24.5")."""
    if re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d+)?", raw):
        raw = raw.replace(",", "")
    raw = raw.replace(",", ".")
    if raw.count(".") > 1:
        return raw
    if "." in raw:
        raw = raw.rstrip("0").rstrip(".")
    return raw.lstrip("0") or "0"


def _durations(text: str) -> set[tuple[str, str]]:
    found = set()
    for m in DURATION.finditer(text):
        unit = m["unit"].lower()
        unit = _UNIT_NAMES.get(unit, unit)
        for value in (m["a"], m["b"]):
            if value:
                found.add((_number(value), unit))
    return found


def _numbers(text: str) -> set[str]:
    return {_number(n) for n in _NUMBER.findall(text)}


def _urls(text: str) -> set[str]:
    return {u.rstrip(".,;:!?").casefold() for u in _URL.findall(text)}


def unsupported(reply: str, sources: Iterable[Source], *, strict: bool = True) -> list[Unsupported]:
    """The facts of ``reply`` that ``sources`` do not back, in the order found (empty when
    the reply is fully supported)."""
    sources = list(sources)
    corpus = _digits(" \n".join(s.text for s in sources))
    text = _digits(reply)
    emails = {e.casefold() for e in _EMAIL.findall(corpus)}
    urls = _urls(corpus)
    numbers = _numbers(_URL.sub(" ", _EMAIL.sub(" ", corpus)))
    durations = _durations(corpus)
    problems: list[Unsupported] = []

    for email in _EMAIL.findall(text):
        if email.casefold() not in emails:
            problems.append(Unsupported("email", email))
    for url in _urls(text):
        if url not in urls and not any(known.startswith(url) for known in urls):
            problems.append(Unsupported("url", url))
    bare = _URL.sub(" ", _EMAIL.sub(" ", text))  # digits inside an address were checked with it
    checked: set[str] = set()
    for m in _PRICE.finditer(bare):
        value = _number(m[1] or m[2])
        checked.add(value)
        if value not in numbers:
            problems.append(Unsupported("price", m[0].strip()))
    units: dict[str, set[str]] = {}
    for number, unit in durations:
        units.setdefault(number, set()).add(unit)
    for pair in sorted(_durations(bare)):
        checked.add(pair[0])
        # "express takes 1 to 2" states no unit: "1 to 2 days" may name the one it means,
        # but a number the sources tie to another unit ("30 days") cannot change it.
        if pair not in durations and (pair[0] in units or pair[0] not in numbers):
            problems.append(Unsupported("duration", f"{pair[0]} {pair[1]}"))
    for m in _PERCENT.finditer(bare):
        value = _number(m[1])
        checked.add(value)
        if value not in numbers:
            problems.append(Unsupported("percent", m[0]))
    for raw in _NUMBER.findall(bare):
        value = _number(raw)
        if value in checked or value in numbers:
            continue
        if strict or len(re.sub(r"\D", "", raw)) >= LONG_DIGITS:
            problems.append(Unsupported("number", raw))
            checked.add(value)
    if _OUT_OF_STOCK.search(text) and not (
            any(s.in_stock is False for s in sources) or _OUT_OF_STOCK.search(corpus)):
        problems.append(Unsupported("stock", _OUT_OF_STOCK.search(text)[0]))
    if _IN_STOCK.search(text) and not (
            any(s.in_stock is True for s in sources) or _IN_STOCK.search(corpus)):
        problems.append(Unsupported("stock", _IN_STOCK.search(text)[0]))
    return problems
