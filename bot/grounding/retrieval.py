"""Which knowledge-base entries answer a question, and how much of the question each one
covers.

FTS5 (bm25) finds candidates, and so does meaning: the entries whose dense vectors
(``dense``) are closest to the question's join them. They are then scored here, because a
bm25 score is not comparable from one question to the next and the bot must decide
*whether* an entry answers, not only which is best. Each content term of the question
gets a weight: how rare the word is in English (``wordfreq``: "phone" says more than
"take"), or for a CJK bigram, how rare it is in this shop's entries. An entry's
**coverage** is the share of that weight it holds; its **similarity** the cosine of the
two dense vectors. Their sum (``Hit.score``) ranks the entries and is what the answer
threshold is calibrated on. **Relevance** breaks ties: it also weighs each term by its
rarity among the shop's entries and counts a term in the title (a question, a product
name) half again, so "wash linen" finds the washing answer before the linen shirt.

Before scoring, each question word is matched to the shop's own vocabulary:
  * a word the shop does not use is tried in its other spelling, its dictionary form
    ("sent", "wore", "bigger") and then a short list of everyday shopping synonyms
    (pants/trousers, jumper/sweater, delivery/shipping): ``wording``;
  * failing that, a typo is corrected to the shop's nearest word (``rapidfuzz``, one
    edit, or two for a long word that is not English; swapping two letters is one edit),
    so "shiping", "retrun" and "adress" count;
  * price words ("price", "cost", "how much") are answered by any product's price, stock
    words ("stock", "available", "sold out") by its stock state, "how long" by any
    duration and "opening hours" or "cut-off time" by any time of day ("1 pm", "9:00");
  * a place ("Seoul", "NZ", "Ohio") is one term, held by an entry that names it or a
    place it lies in (``places``: "South Korea", "within the US"), and "which city" or
    "what country" by one naming a place of that kind;
  * a few shopping idioms are one term, held by the word a shop writes or by the idiom's
    own: "send it back" by "return", "get my money back" by "refund", "hasn't come" by
    "arrived", "send a new one" by "replacement"; "delivery time" asks how long;
  * a word the shop does use is held by its synonyms too ("delivery" by "shipping");
  * a word said only in a sentence beside the question ("need it b4 my mums bday") weighs
    ``ASIDE_SHARE`` of its weight (``questions.asides``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rapidfuzz import process
from rapidfuzz.distance import OSA
from wordfreq import zipf_frequency

from bot.grounding import dense, places
from bot.grounding.wording import IDIOMS, SYNONYM_GROUPS, lemmas, spellings, unabbreviated
from bot.grounding.facts import DURATION
from bot.grounding.questions import asides
from bot.kb import PRODUCT, KnowledgeBase, Stored
from bot.kb.terms import is_cjk, mostly_cjk, query_terms, split, stem

CANDIDATES = 20
TITLE_BOOST = 1.5
MAX_WEIGHT = 3.0  # one rare word ("lanky", "creased") must not outweigh the rest
UNKNOWN_WEIGHT = 2.5  # a word neither the shop nor English knows: a name, slang, a typo
UNKNOWN_GRAM = 0.1
PLACE_CANDIDATES = 10  # entries naming a place asked about, beyond those search found
PLACE_WEIGHT = 2.0  # at least: "the US" is all small words, and a place is what is asked
ASIDE_SHARE = 0.3  # of its weight, for a word only a sentence beside the question says
# An entry answers when coverage + DENSE_WEIGHT * similarity reaches the answerer's
# threshold (both calibrated together, README: "Grounded answers"). The dense model reads
# no Chinese or Japanese, so a mostly-CJK question gets LEXICAL_SIMILARITY for every
# entry: the threshold then asks coverage alone for what it asked before dense scoring.
DENSE_WEIGHT = 1.0
LEXICAL_SIMILARITY = 0.4
DENSE_CANDIDATES = 5

PRICE_WORDS = frozenset("price prices priced pricing cost costs much expensive cheap pricey "
                        "affordable".split())
DURATION_WORDS = frozenset("long quickly fast soon 多久 几天".split())
# "Delivery time" asks how long, not what time of day.
_SPAN_TIME = re.compile(r"\b(?P<what>deliver(?:y|ies)|shipping|transit|turnaround|processing|"
                        r"dispatch|lead|waiting|wait)\s+times?\b", re.IGNORECASE)
CLOCK_WORDS = frozenset("hours open opens opening close closes closing cutoff time 几点 营业".split())
_CLOCK = re.compile(r"\b\d{1,2}(?:[:.]\d{2})?\s?(?:am|pm|a\.m\.|p\.m\.)(?!\w)|\b\d{1,2}:\d{2}\b|"
                    r"\b(?:noon|midday|midnight)\b|\d{1,2}\s?点", re.IGNORECASE)
SHIPPING_WORDS = frozenset("ship ships shipping shipped deliver delivers delivery post postage "
                           "international internationally countries".split())
# "We ship only to ...", "we do not ship to any other countries", "仅发往...": a list of
# destinations that is the whole list.
_ONLY_THERE = re.compile(
    r"\b(?:only|exclusively)\s+(?:ship|deliver|send)|\b(?:ship|deliver|send)\w*\s+(?:to\s+)?only\b|"
    r"\b(?:do not|don't|does not|doesn't|cannot|can't|can not|are unable to|unable to)\s+"
    r"(?:currently\s+)?(?:ship|deliver|send)\w*\s+(?:to\s+)?(?:any\s+)?(?:other|outside|elsewhere|anywhere else)|"
    r"(?:只|仅)(?:发往|寄往|配送|发货到|限)", re.IGNORECASE)
# "which city", "what country": held by an entry naming a place of that kind.
PLACE_KINDS = {"city": "city", "town": "city", "country": "country", "countries": "country"}
STOCK_WORDS = frozenset("stock stocked instock available availability unavailable sold "
                        "soldout restock restocked 有货 缺货 现货 库存".split())

@dataclass(frozen=True)
class Term:
    text: str                 # the question's word (or bigram), folded
    stems: frozenset[str]     # what an entry may hold to match it
    weight: float
    price: bool = False
    stock: bool = False
    duration: bool = False  # "how long": held by any entry that states a duration
    clock: bool = False     # "opening hours", "cut-off time": by one that states a time of day
    place_kind: str = ""    # "which city": by one naming a city
    place: frozenset[str] = frozenset()  # a place's ids (``places``): held by an entry naming one


@dataclass(frozen=True)
class Hit:
    stored: Stored
    coverage: float           # share of the question's weight this entry holds, 0..1
    relevance: float
    matched: frozenset[str]   # the question terms (Term.text) it holds
    similarity: float = 0.0   # cosine of the question's and the entry's dense vectors

    @property
    def score(self) -> float:
        """How well the entry answers: what the answer threshold is calibrated on."""
        return self.coverage + DENSE_WEIGHT * self.similarity


@dataclass
class Vocabulary:
    """One guild's entries as term sets, with document frequencies, cached per version."""

    version: tuple
    words: dict[str, int] = field(default_factory=dict)  # folded word -> entries holding it
    df: dict[str, int] = field(default_factory=dict)     # stem or bigram -> entries holding it
    entries: int = 0
    places: dict[int, frozenset[str]] = field(default_factory=dict)  # entry id -> places it names
    # Where the shop ships: the places named by entries about shipping (not a product's
    # origin or the studio's city).
    destinations: frozenset[str] = frozenset()
    ships_only: Stored | None = None  # the shipping entry that says it ships nowhere else
    attribute_keys: frozenset[str] = frozenset()  # stems of the catalog's attribute names

    def idf(self, key: str) -> float:
        return math.log(1 + (self.entries + 1) / (self.df.get(key, 0) + 0.5))


def entry_text(stored: Stored) -> tuple[str, str]:
    """(title, everything else) of an entry, as search sees it."""
    e = stored.entry
    rest = [e.body, e.category or "", e.key if e.kind == PRODUCT else ""]
    rest += [f"{k} {v}" for k, v in e.attributes.items()]
    return e.title, " ".join(rest)


def load() -> None:
    """Read the word tables now (0.7 s for the lemmas), off the event loop."""
    places.load()
    lemmas("was")


def has_duration(text: str) -> bool:
    return bool(DURATION.search(text))


def has_clock(text: str) -> bool:
    return bool(_CLOCK.search(text))


def entry_keys(text: str) -> set[str]:
    words, grams = split(text)
    return {stem(w) for w in words} | set(grams)


def _weight(word: str, vocab: Vocabulary) -> float:
    if is_cjk(word) and len(word) == 1:  # a character: a one-character word at most
        return min(1.0, 0.2 + vocab.idf(word) / 4) if word in vocab.df else UNKNOWN_GRAM / 2
    if is_cjk(word):
        # Most bigrams the shop never uses straddle two words of the question ("货呀" in
        # "发货呀"): they weigh little, so they cannot sink a question that is answered.
        return min(3.0, 0.5 + vocab.idf(word) / 2) if word in vocab.df else UNKNOWN_GRAM
    zipf = zipf_frequency(word, "en")
    if zipf == 0:
        return UNKNOWN_WEIGHT
    return min(MAX_WEIGHT, max(0.5, 7.0 - zipf))


class Retriever:
    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self._vocab: dict[int, Vocabulary] = {}
        self._vectors: dict[int, tuple[tuple, list[Stored], np.ndarray]] = {}

    async def _dense(self, guild_id: int, version: tuple) -> tuple[list[Stored], np.ndarray]:
        """The guild's entries and their dense vectors (rows), cached per version."""
        held = self._vectors.get(guild_id)
        if held is None or held[0] != version:
            entries = (await self.kb.listing(guild_id)).entries
            held = (version, entries, dense.embed([" ".join(entry_text(s)) for s in entries]))
            self._vectors[guild_id] = held
        return held[1], held[2]

    async def vocabulary(self, guild_id: int) -> Vocabulary:
        version = await self.kb.version(guild_id)
        cached = self._vocab.get(guild_id)
        if cached is not None and cached.version == version:
            return cached
        vocab = Vocabulary(version)
        await asyncio.to_thread(load)
        for stored in (await self.kb.listing(guild_id)).entries:
            title, rest = entry_text(stored)
            if named := places.named(f"{title} {rest}"):
                vocab.places[stored.id] = named
                if SHIPPING_WORDS & set(split(f"{title} {rest}")[0]):
                    vocab.destinations |= named
                    if _ONLY_THERE.search(f"{title} {rest}"):
                        vocab.ships_only = stored
            vocab.attribute_keys |= {stem(w) for key in stored.entry.attributes for w in split(key)[0]}
            words, grams = split(f"{title} {rest}")
            for word in set(words):
                vocab.words[word] = vocab.words.get(word, 0) + 1
            for key in {stem(w) for w in words} | set(grams):
                vocab.df[key] = vocab.df.get(key, 0) + 1
            vocab.entries += 1
        self._vocab[guild_id] = vocab
        return vocab

    def terms(self, question: str, vocab: Vocabulary) -> list[Term]:
        """The question's content terms, matched to the shop's vocabulary."""
        out = []
        question = _SPAN_TIME.sub(lambda m: f"{m['what']} long", unabbreviated(question))
        for pattern, word, own in IDIOMS:
            if pattern.search(question):
                out.append(Term(word, frozenset({stem(w) for w in {word, *own}}), _weight(word, vocab)))
                question = pattern.sub(" ", question)
        found = places.find(question)
        out += [Term(p.name, frozenset(), max(PLACE_WEIGHT, *(_weight(w, vocab) for w in p.words)),
                     place=p.ids) for p in found]
        within = {w for p in found for w in p.words}
        for word in query_terms(question):
            if word in within:
                continue
            price, stock = word in PRICE_WORDS, word in STOCK_WORDS
            if word in PLACE_KINDS:
                out.append(Term(word, frozenset({stem(word)}), _weight(word, vocab),
                                place_kind=PLACE_KINDS[word]))
                continue
            if word in DURATION_WORDS or word in CLOCK_WORDS:
                out.append(Term(word, frozenset({stem(word)}), _weight(word, vocab),
                                duration=word in DURATION_WORDS, clock=word in CLOCK_WORDS))
                continue
            if is_cjk(word) or stem(word) in vocab.df:
                same = {stem(w) for w in SYNONYM_GROUPS.get(word, ()) if stem(w) in vocab.df}
                out.append(Term(word, frozenset({stem(word)} | same if not is_cjk(word) else {word}),
                                _weight(word, vocab), price, stock))
                continue
            variant = next((v for v in spellings(word) if stem(v) in vocab.df), None)
            if variant is not None:  # harbor/harbour, center/centre, organize/organise
                out.append(Term(word, frozenset({stem(variant)}), _weight(variant, vocab),
                                price, stock))
                continue
            lemma = next((w for w in lemmas(word) if stem(w) in vocab.df), None)
            if lemma is not None:  # sent/send, wore/wear, bigger/big
                out.append(Term(word, frozenset({stem(lemma)}), _weight(lemma, vocab), price, stock))
                continue
            group = next((g for g in map(SYNONYM_GROUPS.get, [word, *lemmas(word)]) if g), None)
            if group is not None:
                known = {stem(w) for w in group if stem(w) in vocab.df}
                if known:
                    out.append(Term(word, frozenset(known), _weight(word, vocab), price, stock))
                    continue
            fixed = self._correct(word, vocab) or self._expand(word, vocab)
            basis = fixed or word
            out.append(Term(word, frozenset({stem(basis)}), _weight(basis, vocab),
                            price or basis in PRICE_WORDS, stock or basis in STOCK_WORDS))
        told = asides(question)  # a place told beside the question still says where
        return [dataclasses.replace(t, weight=t.weight * ASIDE_SHARE) if t.text in told and not t.place
                else t for t in out]

    @staticmethod
    def _correct(word: str, vocab: Vocabulary) -> str | None:
        """The shop's word that ``word``, not an English word, is most likely a typo of."""
        if len(word) < 4 or word.isdigit() or not vocab.words or zipf_frequency(word, "en") >= 3.0:
            return None
        limit = 1 if len(word) < 8 else 2
        found = process.extract(word, vocab.words.keys(), scorer=OSA.distance,
                                score_cutoff=limit, limit=None)
        # The closest with the same first letter ("adress" is "address", not "dress"),
        # then the one the shop uses most.
        same = [(distance, -vocab.words[w], w) for w, distance, _ in found if w[0] == word[0]]
        return min(same)[2] if same else None

    @staticmethod
    def _expand(word: str, vocab: Vocabulary) -> str | None:
        """The shop's word that ``word`` shortens ("temp", "subs") or the compound it
        writes as one ("pourover", "giftcard"): the most used, or None."""
        base = word[:-1] if word.endswith("s") and len(word) > 4 else word
        if len(base) < 3 or base.isdigit():
            return None
        longer = [w for w in vocab.words if w.startswith(base) and len(w) >= len(base) + 3]
        if longer:
            return max(longer, key=lambda w: (vocab.words[w], w))
        for i in range(3, len(word) - 2):
            head, tail = word[:i], word[i:]
            if head in vocab.words and tail in vocab.words:
                return head if vocab.df.get(stem(head), 0) <= vocab.df.get(stem(tail), 0) else tail
        return None

    async def products_named(self, guild_id: int, texts: Sequence[str]) -> list[Stored]:
        """The catalog products the texts name, by a word of the product's name that at
        most two entries use ("the Harbour one", not "the shirt"), in the texts' order."""
        vocab = await self.vocabulary(guild_id)
        found: dict[int, Stored] = {}
        for text in texts:
            terms, hits = await self.retrieve(guild_id, text)
            stems = {k for t in terms for k in t.stems}
            for hit in hits:
                name = entry_keys(hit.stored.entry.title) & stems
                if hit.stored.entry.kind == PRODUCT and any(vocab.df.get(k, 0) <= 2 for k in name):
                    found.setdefault(hit.stored.id, hit.stored)
        return list(found.values())

    async def retrieve(self, guild_id: int, question: str,
                       also: list[Stored] = ()) -> tuple[list[Term], list[Hit]]:
        """The question's terms and the entries that hold any of them (plus ``also``: the
        products this member has shown interest in), best first."""
        vocab = await self.vocabulary(guild_id)
        terms = self.terms(question, vocab)
        if not terms:
            return terms, []
        search = sorted({t.text for t in terms} | {s for t in terms for s in t.stems if not is_cjk(s)})
        found = await self.kb.search_terms(guild_id, search, limit=CANDIDATES)
        if asked := frozenset().union(*(t.place for t in terms)):  # the entries naming it
            have = {s.id for s in found}
            found += [s for s in (await self.kb.listing(guild_id)).entries
                      if s.id not in have and vocab.places.get(s.id, frozenset()) & asked][:PLACE_CANDIDATES]
        if any(t.price or t.stock for t in terms):
            products = await self.kb.search_terms(guild_id, search, limit=CANDIDATES, kinds=[PRODUCT])
            found += products
        reads = not mostly_cjk(question)
        similarity: dict[int, float] = {}
        closest: set[int] = set()
        if reads:  # the entries closest in meaning join the candidates, words shared or not
            entries, vectors = await self._dense(guild_id, vocab.version)
            sims = vectors @ dense.embed([question])[0]
            similarity = {stored.id: float(sim) for stored, sim in zip(entries, sims)}
            nearest = [entries[i] for i in np.argsort(-sims)[:DENSE_CANDIDATES]]
            closest = {stored.id for stored in nearest}
            found += nearest
        seen: dict[int, Stored] = {}
        for stored in [*found, *also]:
            seen.setdefault(stored.id, stored)
        order = {id_: rank for rank, id_ in enumerate(seen)}  # bm25's, for ties
        hits = [self.score(stored, terms, vocab) for stored in seen.values()]
        hits = [dataclasses.replace(h, similarity=similarity.get(h.stored.id, 0.0) if reads
                                    else LEXICAL_SIMILARITY)
                for h in hits if h.matched or h.stored.id in closest]
        hits.sort(key=lambda h: (-round(h.score, 6), -h.relevance, order[h.stored.id]))
        return terms, hits

    @staticmethod
    def score(stored: Stored, terms: list[Term], vocab: Vocabulary) -> Hit:
        title, rest = entry_text(stored)
        in_title, anywhere = entry_keys(title), entry_keys(f"{title} {rest}")
        product = stored.entry.kind == PRODUCT
        total = sum(t.weight for t in terms)
        covered = relevance = 0.0
        matched = set()
        for term in terms:
            field_match = (product and ((term.price and stored.entry.price is not None)
                                        or (term.stock and stored.entry.in_stock is not None))
                           or term.duration and has_duration(f"{title} {rest}")
                           or term.clock and has_clock(f"{title} {rest}")
                           or bool(term.place_kind) and any(
                               i.startswith(term.place_kind + ":") for i in vocab.places.get(stored.id, ()))
                           or bool(term.place & vocab.places.get(stored.id, frozenset())))
            keys = term.stems & anywhere
            if not keys and not field_match:
                continue
            matched.add(term.text)
            covered += term.weight
            idf = max((vocab.idf(k) for k in keys), default=vocab.idf(""))
            boost = TITLE_BOOST if term.stems & in_title else 1.0
            relevance += term.weight * idf * boost
        return Hit(stored, covered / total if total else 0.0, relevance, frozenset(matched))
