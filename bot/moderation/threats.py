"""Abuse written in plain words: threats, wishes of harm, telling someone to leave the
country, dehumanising a group. A profanity classifier does not score these ("I hope your
house burns down" has no rude word), and a list of whole sentences could never cover them.

So each pattern is a short grammar over the normalised tokens (``normalize``): slots of
alternative words that must come in order, with at most a few other words between them,
and aimed at a person ("you", "your family", "them", "people like you"). Product talk
that shares the words stays clear: "this heat will kill you" has no one speaking an
intent, "I'd kill for this jacket" aims at no one, "I hope you didn't get hurt" is
negated, and "these are garbage" is about the jeans. The patterns are built in, never taken from configured text, and each is a
linear scan, so a message cannot make them slow.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.moderation.normalize import Normalized

Slot = frozenset[str]


def _slot(words: str) -> Slot:
    return frozenset(words.split())


PEOPLE = _slot("you u ya yall youre ur your yourself urself him her them they he she "
               "family kids children wife husband mom mum mother dad father")
GROUPS = _slot("you yall they them people everyone ppl")
# A negation, or a preposition that turns the aim away ("I'd kill for you"), ends a match.
BREAKS = _slot("not dont doesnt didnt never no wont cant isnt arent werent wasnt havent "
               "hasnt aint shouldnt wouldnt for with without about")
INTENT = _slot("i im ill id we were well imma ima someone somebody")
VIOLENCE = _slot("kill murder stab shoot strangle choke hurt rape slap punch bury burn "
                 "behead hang lynch torture kidnap")
WISH = _slot("hope hoping wish wishing pray praying")
HARM = _slot("die dies rot suffer suffers burn burns drown drowns starve starves choke "
             "chokes croak crash crashes cancer killed hurt raped shot stabbed run")
SHOULD = _slot("should need needs deserve deserves must ought")
ERASED = _slot("exterminated wiped gassed deported shot hanged hung eradicated eliminated "
               "killed burned lynched erased purged sterilized disappear vanish die dead "
               "extinct culled")
VERMIN = _slot("animals vermin subhuman subhumans parasites cockroaches roaches rats "
               "savages apes monkeys scum filth pests")
BE = _slot("are r is be being just")
ORIGIN = _slot("country countries came belong africa")


def _find(tokens: Sequence[str], slots: Sequence[tuple[Slot, int]]) -> bool:
    """Do the slots match tokens in order, each at most its gap of other tokens after the
    one before, with no negation or turning preposition between them?"""
    def from_(slot: int, start: int) -> bool:
        if slot == len(slots):
            return True
        words, gap = slots[slot]
        for i in range(start, min(len(tokens), start + gap + 1)):
            if tokens[i] in words and from_(slot + 1, i + 1):
                return True
            if tokens[i] in BREAKS:
                return False
        return False

    first = slots[0][0]
    return any(tokens[i] in first and from_(1, i + 1) for i in range(len(tokens)))


# (what it is, the slots: the words that may fill each, and how many other tokens may
# stand before it)
PATTERNS: tuple[tuple[str, tuple[tuple[Slot, int], ...]], ...] = (
    ("a threat of violence", ((INTENT, 0), (VIOLENCE, 4), (PEOPLE, 1))),
    ("wishing someone harm", ((WISH, 0), (PEOPLE, 2), (HARM, 3))),
    ("telling people to leave the country", ((_slot("go"), 0), (_slot("back"), 0), (ORIGIN, 4))),
    ("wishing a group gone", ((GROUPS, 0), (SHOULD, 3), (ERASED, 3))),
    ("calling people vermin", ((GROUPS, 0), (BE, 2), (VERMIN, 2))),
)


def threat(norm: Normalized) -> str | None:
    """What kind of plain-word abuse the message holds, or None."""
    tokens = norm.tokens
    for what, slots in PATTERNS:
        if _find(tokens, slots):
            return what
    return None
