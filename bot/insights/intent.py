"""What a member's message is for: a question, a complaint, praise, purchase intent, or
something else, from documented rules over its words and its sentiment.

Why rules: no labelled intent data exists that we may use. The reviews carry stars, not
intents, and the chitchat conversations carry neither. A learnt head needs labels, and
the only labels we could give it are these rules' (weak labelling), so it would at best
imitate them. The rules are scored on a hand-labelled set of community messages
(``bench/data/community_messages.jsonl``, ``python -m bench.intent``), written before the
rules were run on it.

The rules, first match wins (the order is the point: "my order never came, can I get a
refund?" is a complaint even though it asks something, and "is it back in stock? I want
two" is purchase intent even though it is a question):

1. **complaint**: a problem with an order, a product or the service (it broke, it never
   arrived, wrong size, still waiting, a refund, charged twice, "disappointed"), or a
   negative sentiment that is not a plain question;
2. **purchase**: the member means to buy (I'll take it, add to cart, where can I order,
   take my money, pre-order, want two);
3. **question**: a question mark, or a sentence that opens like one (how, does, can I);
4. **praise**: positive sentiment about something (love, amazing, great quality, thank
   you for), not a greeting;
5. **other**: greetings, chat, jokes, everything else.

The patterns are bounded alternations on word boundaries over a lowercased text (no
nested repetition), so a long message costs linear time.
"""

from __future__ import annotations

import re

INTENTS = ("question", "complaint", "praise", "purchase", "other")

_PROBLEM = re.compile(r"""\b(?:
    broke|broken|breaks|damaged|defective|faulty|ripped|torn|tore|stain(?:ed|s)?|fell\ apart|
    falling\ apart|stopped\ working|doesn'?t\ work|does\ not\ work|won'?t\ (?:work|turn|charge)|
    never\ (?:arrived|came|got|received|showed)|(?:not|hasn'?t|has\ not|haven'?t|didn'?t|still\ not)
    \ (?:arrived|received|shipped|come|came|showed\ up|got\ it)|still\ waiting|been\ waiting|
    missing|lost\ (?:my|the)\ (?:order|parcel|package)|wrong\ (?:size|item|colou?r|order|product|one|address)|
    refund|money\ back|charged\ (?:twice|me\ twice|double)|double\ charged|overcharged|
    cancel(?:led)?\ my\ order|scam(?:med)?|rip-?off|
    disappoint(?:ed|ing|ment)|unacceptable|ridiculous|terrible|awful|horrible|worst|useless|
    not\ happy|unhappy|fed\ up|sick\ of|annoyed|frustrat(?:ed|ing)|furious|complain|
    no\ (?:reply|response|answer)|nobody\ (?:replied|answered|helps?)|ignored|ignoring|
    (?:too|way)\ (?:small|big|tight|short|long|thin)|cheap(?:ly)?\ made|poor\ quality|low\ quality|
    fake|itchy|scratchy|shrunk|shrank|faded|pilled|pilling
)\b""", re.VERBOSE)

_PURCHASE = re.compile(r"""\b(?:
    (?:i'?ll|i\ will|i'?m|i\ am|gonna|going\ to|want\ to|wanna|need\ to|would\ like\ to|
    ready\ to|about\ to|can'?t\ wait\ to|plan(?:ning)?\ to|definitely|def)\ (?:\w+\ )?
    (?:buy|order|get|grab|purchase|pick\ up|cop|snag|take)|
    add(?:ed|ing)?\ (?:\w+\ ){0,3}to\ (?:my\ )?(?:cart|basket|bag|wishlist)|
    in\ my\ (?:cart|basket|bag)|check(?:ing)?\ ?out|checkout|take\ my\ money|shut\ up\ and|
    pre-?order(?:ed|ing)?|where\ (?:can|do|could|should)\ i\ (?:buy|order|get|purchase)|
    how\ (?:do|can|could)\ i\ (?:buy|order|purchase|get\ one)|
    want\ (?:one|two|three|a\ pair|both|it|this|these|that|them)|need\ (?:this|these|one|it)|
    i'?ll\ take|sold!?|buying|ordering|restock|back\ in\ stock|wish\ ?list
)\b""", re.VERBOSE)

_QUESTION_START = re.compile(
    r"^(?:hey|hi|hello|so|ok|okay|um|quick question)?[\s,!.]*(?:who|what|when|where|why|how|"
    r"which|whose|do|does|did|is|are|was|were|can|could|will|would|should|shall|has|have|"
    r"any|anyone|anybody|may)\b")

_PRAISE = re.compile(r"""\b(?:
    love|loved|loving|adore|obsessed|amazing|awesome|fantastic|brilliant|excellent|perfect|
    gorgeous|beautiful|stunning|lovely|great|wonderful|superb|incredible|impressed|the\ best|
    best\ (?:purchase|thing|ever)|so\ (?:good|soft|comfy|comfortable|cute|happy|pretty)|
    quality|recommend|thank(?:s|\ you)\ (?:for|so)|kudos|shout\ ?out|well\ done|nailed|
    fits?\ (?:perfectly|great|like\ a\ glove)|happy\ with|glad\ i|worth\ (?:it|every)|comfy|
    not\ bad|10/10|five\ stars|5\ stars
)\b""", re.VERBOSE)

_GREETING = re.compile(r"^(?:good\ (?:morning|night|evening|afternoon)|hi|hey|hello|morning|"
                       r"gm|gn|happy\ (?:friday|monday|weekend|holidays))\b", re.VERBOSE)


def is_question(text: str) -> bool:
    t = text.strip().lower()
    return "?" in t or bool(_QUESTION_START.match(t))


def intent(text: str, sentiment: str) -> str:
    """One of ``INTENTS`` for a message and its sentiment label ("negative", "neutral",
    "positive")."""
    t = " ".join(text.lower().replace("’", "'").split())
    if not t:
        return "other"
    question = is_question(t)
    if _PROBLEM.search(t) or (sentiment == "negative" and not question):
        return "complaint"
    if _PURCHASE.search(t):
        return "purchase"
    if question:
        return "question"
    if sentiment == "positive" and _PRAISE.search(t) and not _GREETING.match(t):
        return "praise"
    return "other"
