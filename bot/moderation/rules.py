"""The content rules: what one message's text alone shows (words, plain-word threats,
scams, advertising, links, capitals, floods, mentions, toxicity). Rates and account age need state, in ``rates``.

Each rule is a plain function of the message text and the rule's parameters that returns
what it found (a short detail a moderator reads) or None. Nothing here compiles a pattern
from configured text: banned words are compared token by token (``normalize``), links are
read token by token, so a hostile message or setting cannot make a check slow.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable
from importlib import resources

from rapidfuzz.distance import Levenshtein

from bot.moderation.config import DEFAULTS
from bot.moderation.normalize import Normalized, contains, normalize, phrase_of
from bot.moderation.threats import threat

# Hateful slurs no community wants, matched as whole words after normalisation. General
# profanity is not here: "hell yes, these fit" is fine in most shops; the toxicity rule
# judges the message, and a guild adds its own words with /mod automod set.
DEFAULT_WORDS = tuple(phrase_of(line) for line in resources.files("bot.moderation")
                      .joinpath("default_words.txt").read_text(encoding="utf-8").splitlines()
                      if line.strip() and not line.startswith("#"))

# Scam bait, as it is written across Discord: one strong phrase is enough; weak ones
# count when two appear, or one beside a link.
STRONG_BAIT = tuple(map(phrase_of, (
    "free nitro", "nitro for free", "nitro free", "free discord nitro", "seed phrase",
    "recovery phrase", "accidentally reported", "verify your account", "your password",
    "double your money", "guaranteed profit", "guaranteed returns", "send me your card",
    "card details", "wallet connect", "connect your wallet", "100x", "steam gift",
    "crypto signals", "investment opportunity", "investment plan", "withdraw profits",
    "digit code", "texted to you",
    "sent to your phone", "pay me directly", "pay me first", "registration fee", "kit fee",
    "presale", "doubling", "been selected", "log into your", "logging into your")))
WEAK_BAIT = tuple(map(phrase_of, (
    "giveaway", "claim", "airdrop", "crypto", "bitcoin", "btc", "usdt", "forex", "profit",
    "invest", "investment", "dm me", "message me", "gift card", "steam card", "upfront",
    "free", "prize", "winner", "won", "limited time", "act fast", "nitro", "login",
    "mentor", "passive income", "earn", "cash app", "cashapp", "venmo", "zelle", "paypal me",
    "pay me", "eth", "whatsapp me", "telegram me")))
# Card data is phishing only when someone asks for it ("reply with the CVV"); a member
# asking how checkout works names it too.
CARD_DATA = tuple(map(phrase_of, ("cvv", "security code", "last 4 digits", "expiry date", "card number")))
ASKS_FOR = tuple(map(phrase_of, ("reply with", "send me", "send us", "dm me", "dm us", "tell me",
                                 "give me", "provide", "confirm your", "message me")))

# Impersonation: a claim to be staff, with what a real team never asks for in a chat.
STAFF_CLAIMS = tuple(map(phrase_of, (
    "support here", "support team here", "staff here", "admin here", "moderator here",
    "mod here", "from support", "from discord", "discord staff", "discord support",
    "headquarters", "i work at", "i work for", "i work in", "official staff", "trust and safety",
    "i'm from", "i am from", "on behalf of", "from the support team", "from the team")))
ASKS = tuple(map(phrase_of, (
    "password", "login", "log in", "verify", "verification", "code we", "code i", "digit code",
    "dm me", "send me", "send the", "pay", "fee", "card number", "your email", "click",
    "scan", "qr code", "personal paypal")))

# Advertising (``promotion``): phrases that are always it, a member's own thing, the calls
# to action that go with it, and an offer beside an outside link.
ALWAYS_PROMO = tuple(map(phrase_of, (
    "sub4sub", "sub 4 sub", "f4f", "follow for follow", "follow 4 follow", "l4l",
    "i follow back", "follow back", "buy followers", "cheap followers", "followers likes",
    "link in bio", "link in my bio", "link in my profile", "onlyfans", "dm for price",
    "dm me for the price", "dm me for price")))
OWN_THING = tuple(map(phrase_of, (
    "my channel", "my page", "my server", "my youtube", "my insta",
    "my instagram", "my tiktok", "my etsy", "my depop", "my soundcloud", "my twitch",
    "my profile", "my business", "my brand", "my website", "my site",
    "my stream", "my podcast", "my blog", "my ebay", "my vinted", "my fiverr", "my course",
    "my dropshipping", "my music", "my art", "my mixtape")))
CALLS = tuple(map(phrase_of, (
    "check out", "check my", "check it out", "check them out", "follow me", "subscribe", "sub pls", "vote for", "join", "dm me",
    "message me", "buy", "use code", "use my code", "rate my", "drop your", "support me",
    "visit", "shop now", "order now", "sign up")))
# Not a price or "code" alone: members quote both ("it's $20 there", "the code didn't work").
_OFFER = re.compile(r"\d+\s?%\s?off|\bfree\b|\bcheap|\bdeals?\b|\bdiscount|\bpromo\b|\blimited\b",
                    re.IGNORECASE)
INVITE_HOSTS = ("discord.gg", "dsc.gg", "discord.me", "discord.io")
INVITE_PATHS = ("discord.com/invite", "discordapp.com/invite")
SHORTENERS = frozenset("bit.ly tinyurl.com goo.gl is.gd cutt.ly shorturl.at rb.gy t.ly "
                       "ow.ly tiny.cc s.id".split())
# Names phishing domains imitate, with the domains that really are theirs.
BRANDS = {"discord": ("discord.com", "discord.gg", "discordapp.com", "discord.gift"),
          "nitro": ("discord.com",), "steamcommunity": ("steamcommunity.com",),
          "steampowered": ("steampowered.com",), "paypal": ("paypal.com", "paypal.me"),
          "epicgames": ("epicgames.com",)}
_HOST = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,24}")  # used with fullmatch only
_MENTION = re.compile(r"<@[!&]?\d{1,20}>")
_MENTION_ALL = re.compile(r"@(?:everyone|here)\b")


def words(text: str, norm: Normalized, params: dict) -> str | None:
    banned = [phrase_of(w) for w in params["words"]]
    if params["defaults"]:
        banned += DEFAULT_WORDS
    for phrase in banned:
        if phrase and contains(norm, phrase):
            return "a banned word or phrase"
    return None


def links_in(text: str) -> list[tuple[str, str]]:
    """(host, host + path) of each link-like token, lower case, ``www.`` dropped."""
    found = []
    for token in text.casefold().split():
        token = token.strip("<>()[]{}\"'.,!?*_~|")
        rest = token.split("://", 1)[1] if "://" in token else token
        host = rest.split("/", 1)[0].split("?", 1)[0].split(":", 1)[0].removeprefix("www.")
        if len(host) <= 253 and _HOST.fullmatch(host) and (
                "://" in token or "/" in rest or host.count(".") >= 1 and _looks_like_domain(host)):
            found.append((host, host + ("/" + rest.split("/", 1)[1] if "/" in rest else "")))
    return found


def _looks_like_domain(host: str) -> bool:
    """A bare "word.word" is a domain only with a common top-level domain ("ok.so" is not)."""
    return host.rsplit(".", 1)[1] in {"com", "net", "org", "gg", "io", "ly", "me", "co", "ru",
                                      "xyz", "info", "biz", "app", "site", "online", "shop",
                                      "store", "link", "click", "gift", "uk", "de", "fr", "cn"}


def _allowed(host: str, allow: list[str]) -> bool:
    return any(host == a or host.endswith("." + a) for a in allow)


def brands(shop_domains: list[str] = ()) -> dict[str, tuple[str, ...]]:
    """The names phishing imitates: the common ones, and the shop's own (the domains of
    its product links), each with its real domains."""
    out = dict(BRANDS)
    for domain in shop_domains:
        domain = domain.casefold().removeprefix("www.")
        name = domain.split(".")[-2] if domain.count(".") >= 1 else domain
        if len(name) >= 5:
            out[name.replace("-", "")] = out.get(name.replace("-", ""), ()) + (domain,)
    return out


def suspicious(host: str, known: dict[str, tuple[str, ...]] = BRANDS) -> str | None:
    """Why a host looks like phishing: a shortener, or a known brand's name imitated (in a
    part of the name, spelt one or two letters off, run together: "juniper-and-pine", or
    one letter off inside a longer name: "dlscordapp")."""
    if host in SHORTENERS:
        return f"a link shortener ({host})"
    labels = host.split(".")[:-1]
    for brand, real in known.items():
        if any(host == r or host.endswith("." + r) for r in real):
            continue
        near = 1 if len(brand) < 7 else 2
        for label in labels:
            parts = label.split("-")
            joined = label.replace("-", "")
            windows = (joined[i:i + len(brand)] for i in range(len(joined) - len(brand) + 1)
                       if len(brand) >= 7)  # "nitro" is one letter off inside "citroen"
            if brand in joined or any(Levenshtein.distance(p, brand) <= near for p in parts if len(p) >= 4) \
                    or any(Levenshtein.distance(w, brand) <= 1 for w in windows):
                return f"a look-alike of {brand} ({host})"
    return None


def _allowlist(params: dict) -> list[str]:
    """A rule's allowed domains: its ``allow`` list and the shop's own."""
    return [a.casefold().removeprefix("www.") for a in [*params["allow"], *params.get("shop_domains", ())]]


def links(text: str, norm: Normalized, params: dict) -> str | None:
    allow = _allowlist(params)
    known = brands(list(params.get("shop_domains", ())))
    for host, full in links_in(text):
        if _allowed(host, allow):
            continue
        if host in INVITE_HOSTS or any(full.startswith(p) for p in INVITE_PATHS):
            return f"an invite link ({host})"
        why = suspicious(host, known)
        if why:
            return why
        if params["mode"] == "allowlist":
            return f"a link to {host}, not on the allowlist"
    return None


def scam(text: str, norm: Normalized, params: dict) -> str | None:
    if any(contains(norm, p) for p in STRONG_BAIT):
        return "scam bait"
    if any(contains(norm, p) for p in CARD_DATA) and any(contains(norm, p) for p in ASKS_FOR):
        return "someone asks for card details"
    if any(contains(norm, p) for p in STAFF_CLAIMS) and any(contains(norm, p) for p in ASKS):
        return "someone claiming to be staff asks for a login, a code or money"
    weak = sum(contains(norm, p) for p in WEAK_BAIT)
    linked = bool(links_in(text))
    if weak >= 2 or (weak and linked and any(suspicious(h) for h, _ in links_in(text))):
        return "scam bait"
    return None


def promotion(text: str, norm: Normalized, params: dict) -> str | None:
    """Advertising: follow-for-follow and bought followers anywhere; a member's own
    channel, shop or server with a call to follow, buy or visit (or a link); an outside
    link with an offer ("15% off", "$5", "3 months free"). A link to the shop's own pages,
    or a member sharing a video or a post without selling, is not advertising."""
    if any(contains(norm, p) for p in ALWAYS_PROMO):
        return "self-promotion"
    outside = [h for h, _ in links_in(text) if not _allowed(h, _allowlist(params))]
    if any(contains(norm, p) for p in OWN_THING) and (outside or any(contains(norm, p) for p in CALLS)):
        return "self-promotion"
    if outside and _OFFER.search(text):
        return f"an advert ({outside[0]})"
    return None


def caps(text: str, norm: Normalized, params: dict) -> str | None:
    letters = [c for c in text if c.isalpha()]
    if len(letters) < params["min_letters"]:
        return None
    share = sum(c.isupper() for c in letters) / len(letters)
    return f"{share:.0%} capitals" if share >= params["ratio"] else None


def flood(text: str, norm: Normalized, params: dict) -> str | None:
    lines = text.count("\n") + 1
    if lines > params["max_lines"]:
        return f"{lines} lines"
    marks = sum(unicodedata.combining(c) > 0 for c in text)
    if marks >= 4 and marks >= params["zalgo_ratio"] * max(1, len(text) - marks):
        return "zalgo text"
    repeats = params["max_repeat"]
    run = longest_run(text)
    if run >= repeats:
        return f"a character repeated {run} times"
    unit = repeated_unit("".join(text.split()), repeats)
    if unit:
        return f"{unit!r} repeated"
    tokens = norm.tokens
    for n in (1, 2, 3):
        grams = Counter(tokens[i:i + n] for i in range(len(tokens) - n + 1))
        if grams:
            gram, count = grams.most_common(1)[0]
            if count >= params["max_same_words"] and count * n >= 0.5 * len(tokens):
                return f"{' '.join(gram)!r} repeated {count} times"
    return None


def repeated_unit(text: str, times: int) -> str | None:
    """A unit of two to four characters written ``times`` times in a row ("lolololo",
    "👉👈👉👈"): found by stepping through the text once per unit length."""
    for size in (2, 3, 4):
        run = 1
        for i in range(size, len(text) - size + 1, size):
            run = run + 1 if text[i:i + size] == text[i - size:i] else 1
            if run >= max(3, times // size + 1):
                return text[i:i + size]
    return None


def longest_run(text: str) -> int:
    best = run = 0
    previous = None
    for c in text:
        if c.isspace():
            continue
        run = run + 1 if c == previous else 1
        previous = c
        best = max(best, run)
    return best


def mentions(text: str, norm: Normalized, params: dict) -> str | None:
    if _MENTION_ALL.search(text):
        return "@everyone or @here"
    n = len(_MENTION.findall(text))
    return f"{n} mentions" if n >= params["max_mentions"] else None


Rule = Callable[[str, Normalized, dict], "str | None"]
def threats(text: str, norm: Normalized, params: dict) -> str | None:
    return threat(norm)


CONTENT_RULES: dict[str, Rule] = {"words": words, "threats": threats, "scam": scam,
                                  "promotion": promotion, "links": links, "caps": caps,
                                  "flood": flood, "mentions": mentions}


def check_content(text: str, params: dict[str, dict]) -> dict[str, str]:
    """{rule: detail} for each enabled content rule (a key of ``params``) the text breaks,
    toxicity aside (it needs the classifier: ``toxicity``). Parameters left out take the
    rule's defaults (``config.DEFAULTS``)."""
    norm = normalize(text)
    found = {}
    for name, rule in CONTENT_RULES.items():
        if name in params:
            detail = rule(text, norm, {**DEFAULTS[name].params, **params[name]})
            if detail:
                found[name] = detail
    return found
