"""Text into search terms, the same way for the index, the MATCH query and the scoring.

Two kinds of term:
  * words: runs of letters and digits outside CJK scripts, case- and accent-folded, the
    way FTS5's ``unicode61 remove_diacritics 2`` cuts them. Scoring compares their
    Snowball stems, so "shipped" meets "shipping" as it does in the porter index;
  * characters and character bigrams of Chinese and Japanese text, which has no spaces:
    ``unicode61`` would see a whole sentence as one token, so "运费多少" could never meet
    "运费". Every run of Han or kana becomes its characters and overlapping pairs ("运 费
    多 少 运费 费多 多少"), indexed in the ``grams`` column and matched the same way: a
    pair finds a word, a character a one-character word ("退" in "能退吗" and "退货").

Stop words are dropped from questions (not from indexed text): a question's grammar ("how
do I", "can you", "你们", "请问") and chat register ("pls", "u", "rn") say nothing about which
entry answers it, and would add the same small score everywhere. The lists are general
English and Chinese, not any shop's vocabulary; "no", "not" and size letters are kept.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import snowballstemmer

MAX_TERMS = 32  # a 2,000-character message is ~300 words; the first content words carry it

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[^\W_]+")

STOP_WORDS = frozenset("""
a about am an and any anyone anybody are as at be been but by can could did do does doing
for from had has have hello hey hi how i if im in into is it its just ll me my of on or our
please re should so some t than that the their them then there these they this those to us
ve was we were what whats when whens where wheres which who why will with would you your
hows whos

u ur ya yall pls plz rn tbh lol b4 4ever thx thanks thank guys hiya yo ok okay idk wanna gonna also
really actually quick question anyone know tell wondering wonder know want need get got
rly w bc cuz abt dont don doesnt cant isnt wont didnt aint hasnt havent gotta lemme r q
ugh nah yeah yep hmm stuff thing things kinda sorta like literally basically one ones all
here anywhere something somewhere anything roughly exactly possible morning evening s id
yet still now already actual honestly seriously totally omg wtf lmao haha smth
""".split())  # "ll", "re", "ve", "t": what is left of "you'll", "don't" and the like

# Chinese grammar and question frames, as bigrams and single characters (how questions
# are cut).
CJK_STOP = frozenset("""
你们 我们 他们 请问 问一 一下 什么 怎么 怎样 多少 可以 能不 不能 是不 不是 有没 没有
一个 这个 那个 哪个 如果 的话 我的 你的 就是 还是 现在 想问 知道 为什么
的 了 吗 呢 啊 吧 呀 么 我 你 他 她 们 是 有 在 能 可 还 都 就 也 要 会 和 很 多 啥 不 这 那 个
""".split())

_stemmer = snowballstemmer.stemmer("english")


def fold(text: str) -> str:
    """Lower case without accents ("Café" -> "cafe"), as the index folds it."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@functools.lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    return _stemmer.stemWord(word)


def bigrams(run: str) -> list[str]:
    """The characters of a CJK run, then its overlapping pairs."""
    return list(run) + [run[i:i + 2] for i in range(len(run) - 1)]


def split(text: str) -> tuple[list[str], list[str]]:
    """(words, CJK characters and bigrams) of ``text``, folded, with repeats."""
    folded = fold(text)
    grams = [g for run in _CJK.findall(folded) for g in bigrams(run)]
    words = _WORD.findall(_CJK.sub(" ", folded))
    return words, grams


def index_grams(*texts: str) -> str:
    """What the ``grams`` column indexes: the grams of every CJK run, space-separated."""
    return " ".join(g for text in texts for g in split(text)[1])


def query_terms(text: str) -> list[str]:
    """The distinct content terms of a question (words, then bigrams), at most MAX_TERMS."""
    words, grams = split(text)
    seen: dict[str, None] = {}
    for term in [*words, *grams]:
        if term not in STOP_WORDS and term not in CJK_STOP:
            seen.setdefault(term, None)
            if len(seen) == MAX_TERMS:
                break
    return list(seen)


def is_cjk(term: str) -> bool:
    return bool(_CJK.fullmatch(term))


def match_expression(terms: list[str]) -> str | None:
    """An FTS5 MATCH expression that can only mean "any of these words": each term is a
    quoted string (a quote inside doubled), joined by OR, so ``NEAR``, ``*``, ``-``,
    ``col:`` or a stray parenthesis in member text are only characters."""
    if not terms:
        return None
    return " OR ".join('"' + term.replace('"', '""') + '"' for term in terms)


def mostly_cjk(text: str) -> bool:
    """More CJK characters than half the letters of its other words."""
    words, grams = split(text)
    return sum(len(g) == 1 for g in grams) > sum(len(w) for w in words) / 2
