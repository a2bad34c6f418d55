"""Member memory: the fact rules, and storage in member_facts."""

from types import SimpleNamespace

import pytest

from bot.chat.memory import Fact, MemberMemory, extract_facts, render_profile
from bot.core.commands import ADMINISTRATOR, Caller, Invocation, MemberRef
from bot.features.memory import MODERATORS_ONLY, forget_memory, setup, show_memory


def values(text):
    return [fact.value for fact in extract_facts(text)]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I'm a size M", ["size M"]),
        ("Hi! I am usually a size 10, and I love linen.", ["size 10", "loves linen"]),
        ("I wear a 10", ["size 10"]),
        ("<@123> I'm a size M @bot", ["size M"]),
        ("I’m a medium in tops", ["size M"]),
        ("my shoe size is 9.5", ["shoe size 9.5"]),
        ("I take an XL.", ["size XL"]),
        ("my order 1234 hasn't arrived", ["order #1234: hasn't arrived"]),
        ("Where is my order #JP-1042?", ["order #JP-1042 (asked about it)"]),
        ("I love linen", ["loves linen"]),
        ("I really hate the scratchy wool", ["dislikes scratchy wool"]),
        ("I'm allergic to wool", ["allergic to wool"]),
        ("I live in New Zealand", ["lives in New Zealand"]),
        ("I can't stand polyester, but I prefer cotton.", ["dislikes polyester", "prefers cotton"]),
    ],
)
def test_facts_members_state(text, expected):
    assert values(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Should I wear a 10?",  # a question
        "If I wear a 10 will it fit",  # a hypothetical
        "I'm not a size M anymore",  # a negation
        "I'm a small business owner",  # "small" is not a size here
        "I take 2 of them",
        "I love it",  # nothing to remember
        "I'd like to order 2 shirts",
        "I'm in a hurry",  # not a place
        "I don't love wool",
    ],
)
def test_non_facts(text):
    assert values(text) == []


async def test_newer_facts_replace_what_they_contradict(db):
    memory = MemberMemory(db)
    for i, text in enumerate(["I'm a size M. I love wool. My order 1234 hasn't arrived",
                              "I'm a size L. I hate wool. My order 1234 arrived today!"]):
        await memory.remember(1, 42, "ana", extract_facts(text), 100 + i, 1000 + i)
    assert sorted(await memory.facts(1, 42)) == sorted(
        ["size L", "dislikes wool", "order #1234: arrived today"])
    # The member row exists and every fact is findable by the member's user id.
    assert tuple(await db.fetchone("SELECT display_name FROM members WHERE user_id = 42")) == ("ana",)


async def test_facts_are_capped_per_member_oldest_first(db):
    memory = MemberMemory(db, max_facts=3)
    for i in range(5):
        await memory.remember(1, 42, "ana", extract_facts(f"My order {1000 + i} is late"), i, i)
    assert await memory.facts(1, 42) == [f"order #{1000 + i}: is late" for i in (2, 3, 4)]


async def test_facts_are_per_guild(db):
    memory = MemberMemory(db)
    await memory.remember(1, 42, "ana", extract_facts("I'm a size M"), 1, 1)
    assert await memory.facts(2, 42) == []


def test_profile_rendering():
    assert render_profile("ana", []) == ""
    assert render_profile("ana", ["size M", "loves linen"]) == (
        "What ana told you before: size M; loves linen.")


def run(memory, action, caller, target=None):
    """Call a memory command's action as the handler does after argument conversion."""
    commands = setup(SimpleNamespace(db=memory)).commands  # setup only reads .db
    name = {show_memory: "memory", forget_memory: "forget"}[action]
    command = next(c for c in commands if c.name == name)
    args = {} if target is None else {"member": target}
    return action(memory, Invocation(command, caller, args))


async def text(awaitable):
    return (await awaitable).text


async def test_memory_and_forget_commands(db):
    memory = MemberMemory(db)
    await memory.remember(1, 42, "ana", extract_facts("I'm a size M. My order 1234 is late"), 1, 1)
    ana = Caller(user_id=42, name="ana", guild_id=1)
    shown = await text(run(memory, show_memory, ana))
    assert "- size M" in shown and "- order #1234: is late" in shown

    bob = Caller(user_id=7, name="bob", guild_id=1)
    assert await text(run(memory, show_memory, bob)) == "I don't remember anything about you yet."
    assert await text(run(memory, show_memory, bob, MemberRef(42, "ana"))) == MODERATORS_ONLY
    assert await text(run(memory, forget_memory, bob, MemberRef(42, "ana"))) == MODERATORS_ONLY
    assert len(await memory.facts(1, 42)) == 2

    mod = Caller(user_id=9, name="mo", guild_id=1, permissions=frozenset({"moderate_members"}))
    assert "size M" in await text(run(memory, show_memory, mod, MemberRef(42, "ana")))
    assert await text(run(memory, show_memory, mod, MemberRef(43, "@everyone"))) == (
        "I don't remember anything about @\u200beveryone.")
    admin = Caller(user_id=10, name="al", guild_id=1, permissions=frozenset({ADMINISTRATOR}))
    assert "size M" in await text(run(memory, show_memory, admin, MemberRef(42, "ana")))
    assert await text(run(memory, forget_memory, ana)) == "Done: I forgot 2 things I remembered about you."
    assert await memory.facts(1, 42) == []
    assert await text(run(memory, forget_memory, ana)) == "There was nothing to forget about you."


def test_fact_kinds_are_checked_in_code():
    with pytest.raises(ValueError, match="fact kind 'mood'"):
        Fact("mood", "happy", "%")


async def test_memory_export_lists_the_facts(db):
    memory = MemberMemory(db)
    await memory.remember(1, 42, "ana", extract_facts("I'm a size M"), 77, 5)
    assert await memory.export(1, 42) == [{"kind": "size", "value": "size M",
                                           "source_message_id": "77", "created_at": 5,
                                           "updated_at": 5}]
