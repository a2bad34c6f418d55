"""Abuse written in plain words: threats, wishes of harm, telling someone to harm
themselves or to leave the country, insults aimed at a person, dehumanising or shutting
out a group. A profanity classifier does not score these ("I hope your
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
GROUPS = _slot("you yall they them people everyone ppl mods admins moderators staff")
# Groups people are attacked for being; a benign mention ("as a gay man I love the fit")
# never meets the words of contempt the patterns below need after it.
IDENTITY = _slot("muslims muslim jews jew christians christian hindus hindu sikhs catholics "
                 "atheists gays gay lesbians lesbian trans transgender queers queer "
                 "bisexuals women woman men females girls blacks whites asians mexicans "
                 "immigrants migrants refugees foreigners gypsies arabs africans indians "
                 "chinese disabled autistic boomers")
# A negation, or a preposition that turns the aim away ("I'd kill for you"), ends a match.
BREAKS = _slot("not dont doesnt didnt never no wont cant isnt arent werent wasnt havent "
               "hasnt aint shouldnt wouldnt for with without about")
INTENT = _slot("i im ill id we were well imma ima someone somebody")
VIOLENCE = _slot("kill murder stab shoot strangle choke hurt rape slap punch bury burn "
                 "behead hang lynch torture kidnap smash slit stomp")
WISH = _slot("hope hoping wish wishing pray praying")
HARM = _slot("die dies rot suffer suffers burn burns drown drowns starve starves choke "
             "chokes croak crash crashes cancer killed hurt raped shot stabbed run hit")
SHOULD = _slot("should need needs deserve deserves must ought")
ERASED = _slot("exterminated wiped gassed deported shot hanged hung eradicated eliminated "
               "killed burned lynched erased purged sterilized disappear vanish die dead "
               "extinct culled")
VERMIN = _slot("animals vermin subhuman subhumans parasites cockroaches roaches rats "
               "savages apes monkeys scum filth pests worms maggots")
# Contempt for a group: vermin, and what a group is called to shut it out.
CONTEMPT = VERMIN | _slot("plague disease cancer drain burden thieves criminals freaks "
                          "degenerates inferior trash garbage invaders terrorists groomers "
                          "pedos disgusting")
INSULT = _slot("pathetic ugly ugliest worthless disgusting loser idiot moron imbecile "
               "braindead useless trash garbage scum pig")
NAMES = _slot("idiot moron loser imbecile creep freak joke hag")  # what a person is called
TARGETS = PEOPLE | _slot("anyone everyone person somebody someone people")
YOU = _slot("you u ya yall")
BE = _slot("are r is be being just")
ORIGIN = _slot("country countries came belong africa")
SELF = _slot("yourself urself")


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
    ("a threat of violence", ((INTENT, 0), (VIOLENCE, 4), (TARGETS, 2))),
    ("wishing someone harm", ((WISH, 0), (PEOPLE, 2), (HARM, 5))),
    ("wishing someone harm", ((YOU, 0), (_slot("deserve deserves"), 1), (HARM, 4))),
    # Told to, not warned of: "go cut yourself", not "you could cut yourself on it".
    ("telling someone to harm themselves", ((_slot("go just pls please should"), 0),
                                            (_slot("cut hang kill off unalive neck"), 1), (SELF, 0))),
    ("telling someone to harm themselves", ((_slot("go just pls please should"), 0), (_slot("jump"), 1),
                                            (_slot("off"), 0), (_slot("bridge building cliff roof"), 2))),
    ("telling someone to harm themselves", ((_slot("go just pls please should"), 0),
                                            (_slot("drink eat swallow"), 1), (_slot("bleach"), 1))),
    ("telling someone to harm themselves", ((_slot("should just go"), 0), (_slot("end"), 2),
                                            (_slot("it"), 0))),
    ("telling someone to harm themselves", ((_slot("better"), 0), (_slot("without"), 2), (YOU, 0))),
    ("telling someone nobody cares", ((_slot("nobody noone"), 0), (_slot("miss cares care likes wants"), 2),
                                      (YOU | _slot("your ur"), 1))),
    ("telling someone nobody cares", ((_slot("nobody noone"), 0), (_slot("cares care"), 1),
                                      (_slot("about"), 0), (_slot("you your ur"), 0))),
    ("insulting someone", ((_slot("you u"), 0), (_slot("are r re"), 0), (INSULT, 2))),
    ("insulting someone", ((_slot("youre"), 0), (INSULT, 2))),
    ("insulting someone", ((_slot("ur"), 0), (_slot("so such"), 0), (INSULT, 1))),
    ("insulting someone", ((_slot("ur youre"), 0), (_slot("a an"), 0), (NAMES, 1))),
    ("insulting someone", ((_slot("what"), 0), (_slot("a an"), 0), (_slot("moron idiot loser imbecile creep"), 1))),
    ("telling people to leave the country", ((_slot("go"), 0), (_slot("back"), 0), (ORIGIN, 4))),
    ("telling people to leave the country", ((_slot("back"), 0), (_slot("to"), 0), (YOU, 4),
                                             (_slot("came crawled"), 0), (_slot("from"), 0))),
    ("wishing a group gone", ((GROUPS, 0), (SHOULD, 3), (ERASED, 3))),
    ("calling people vermin", ((GROUPS, 0), (BE, 2), (VERMIN, 2))),
    ("calling people vermin", ((GROUPS | IDENTITY, 0), (_slot("breed"), 1), (_slot("like"), 0), (VERMIN, 1))),
    ("contempt for a group", ((IDENTITY, 0), (BE, 2), (CONTEMPT, 4))),
    ("contempt for a group", ((IDENTITY, 0), (_slot("parasites vermin cockroaches subhuman subhumans "
                                                    "plague"), 12))),
    ("contempt for a group", ((IDENTITY, 0), (_slot("belong belongs"), 1),
                              (_slot("kitchen cage zoo camps oven jail"), 3))),
    ("contempt for a group", ((_slot("jews jew zionists"), 0), (_slot("control controls run runs own owns"), 1),
                              (_slot("banks media world government everything"), 3))),
    ("contempt for a group", ((_slot("your ur"), 0), (_slot("kind"), 0),
                              (_slot("shouldnt arent isnt dont doesnt should are is"), 0))),
)


def threat(norm: Normalized) -> str | None:
    """What kind of plain-word abuse the message holds, or None."""
    tokens = norm.tokens
    for what, slots in PATTERNS:
        if _find(tokens, slots):
            return what
    return None
