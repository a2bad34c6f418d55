"""Prompt assembly within the token budget, with the real tokenizer and archive."""

import pytest

from bot.chat.context import assemble, fetch_history, fit
from bot.core.messages import Incoming
from bot.store import ArchivedMessage
from lm.chat import TEMPLATES
from lm.tokenizer import load_tokenizer

BOT = 1
PERSONA = "You are the helper of Juniper and Pine."


@pytest.fixture(scope="module")
def tok(tiny_model_dir):
    return load_tokenizer(tiny_model_dir)


@pytest.fixture(scope="module")
def count(tok):
    return lambda text: len(tok.encode(text))


def counter(tok, template: str):
    return lambda messages: len(TEMPLATES[template].encode(tok, messages))


@pytest.fixture(scope="module")
def count_prompt(tok):
    """Exact counts through our template (control-token role tags)."""
    return counter(tok, "lm")


def room(count_prompt, tokens: int) -> int:
    """A budget of `tokens` for the content beyond what the template costs for a system
    and a user turn (budgets are exact, so each template's fixed tokens differ)."""
    return tokens + count_prompt([("system", ""), ("user", "")])


def archived(message_id, content, author=5, name="bob", **kw):
    return ArchivedMessage(message_id=message_id, guild_id=1, channel_id=10, author_id=author,
                           author_name=name, content=content, created_at=message_id, **kw)




def test_history_fills_the_budget_newest_first_and_keeps_system_and_profile(count, count_prompt):
    channel = [archived(i, f"message number {i} about linen shirts") for i in range(1, 60)]
    channel[-1] = archived(59, "our last answer", author=BOT, name="bot")
    budget = room(count_prompt, 250)
    messages = assemble(persona=PERSONA, name="ana", facts=["size M", "loves linen"],
                        history=[channel], current="which shirt fits me?", bot_user_id=BOT,
                        budget=budget, count=count, count_prompt=count_prompt)
    system, *turns, question = messages
    assert system[0] == "system" and PERSONA in system[1]
    assert "size M; loves linen" in system[1]
    assert question == ("user", "ana: which shirt fits me?")
    assert count_prompt(messages) <= budget
    # The newest history survived, the oldest was dropped, order is chronological.
    assert turns[-1] == ("assistant", "our last answer")
    assert turns[-2] == ("user", "bob: message number 58 about linen shirts")
    assert ("user", "bob: message number 1 about linen shirts") not in turns
    kept = [int(t[1].split()[3]) for t in turns[:-1]]
    assert kept == sorted(kept) and len(kept) > 2


def test_sources_are_filled_in_order_of_relevance(count, count_prompt):
    chain = [archived(5, "the question this replies to")]
    channel = [archived(i, f"unrelated chatter {i}") for i in range(10, 40)]
    messages = assemble(persona=PERSONA, name="ana", facts=[], history=[chain, channel],
                        current="and in blue?", bot_user_id=BOT, budget=room(count_prompt, 80), count=count, count_prompt=count_prompt)
    assert ("user", "bob: the question this replies to") in messages
    assert messages[1] == ("user", "bob: the question this replies to")  # oldest goes first


def test_an_oversized_question_is_shortened_from_the_front(count, count_prompt):
    current = "filler " * 400 + "what is your return policy?"
    messages = assemble(persona=PERSONA, name="ana", facts=["size M"], history=[],
                        current=current, bot_user_id=BOT, budget=room(count_prompt, 160), count=count, count_prompt=count_prompt)
    system, question = messages
    assert "size M" in system[1] and PERSONA in system[1]
    assert question[1].startswith("ana: …") and question[1].endswith("return policy?")
    assert count_prompt(messages) <= room(count_prompt, 160)


def test_facts_then_persona_give_way_only_when_nothing_else_fits(count, count_prompt):
    facts = [f"order #{1000 + i}: is late" for i in range(20)]
    messages = assemble(persona=PERSONA, name="ana", facts=facts, history=[], current="hi",
                        bot_user_id=BOT, budget=room(count_prompt, 120), count=count, count_prompt=count_prompt)
    system = messages[0][1]
    assert PERSONA in system and "order #1019" in system and "order #1000" not in system
    assert count_prompt(messages) <= room(count_prompt, 120)

    messages = assemble(persona=PERSONA * 20, name="ana", facts=facts, history=[], current="hi",
                        bot_user_id=BOT, budget=room(count_prompt, 120), count=count, count_prompt=count_prompt)
    assert messages[0][1].startswith(PERSONA) and "order #" not in messages[0][1]
    assert messages[1] == ("user", "ana: hi")
    assert count_prompt(messages) <= room(count_prompt, 120)


@pytest.mark.parametrize("template", ["chatml", "llama2", "zephyr"])
def test_every_template_is_counted_exactly_and_more_room_never_means_less_history(tok, count, template):
    """ChatML spelled as text here (this vocabulary has no <|im_start|>) costs 24 tokens a
    turn; llama2 joins runs of one role. Whatever the template, the exact count fits the
    budget, the persona and the question stay, and history only grows with the budget."""
    count_prompt = counter(tok, template)
    channel = [archived(i, f"message number {i} about linen shirts", author=BOT if i % 3 == 0 else 5)
               for i in range(1, 40)]
    kept = []
    for budget in range(count_prompt([("system", PERSONA), ("user", "ana: hi")]) + 40, 600, 37):
        messages = assemble(persona=PERSONA, name="ana", facts=["size M"], history=[channel],
                            current="hi", bot_user_id=BOT, budget=budget, count=count,
                            count_prompt=count_prompt)
        assert count_prompt(messages) <= budget
        assert PERSONA in messages[0][1] and messages[-1] == ("user", "ana: hi")
        kept.append(len(messages) - 2)
    assert kept == sorted(kept) and kept[-1] > kept[0]


def test_fit_keeps_the_start_or_the_end(count):
    text = "alpha beta gamma delta epsilon " * 10
    assert count(fit(text, 10, count)) <= 10 and text.startswith(fit(text, 10, count))
    assert text.endswith(fit(text, 10, count, keep_end=True))
    assert fit("short", 10, count) == "short"


async def test_fetch_history_reads_chain_channel_and_member(archive):
    ana = dict(author=7, name="ana")
    await archive.add_many([
        archived(100, "first"),
        archived(101, "reply to first", reply_to_id=100, **ana),
        archived(102, "unrelated"),
        ArchivedMessage(message_id=103, guild_id=1, channel_id=11, author_id=7, author_name="ana",
                        content="in another channel", created_at=103),
        archived(104, "so?", reply_to_id=101, **ana),
        archived(105, "newer than the question"),
    ])
    msg = Incoming(message_id=104, guild_id=1, channel_id=10, channel_name="general",
                   author_id=7, author_name="ana", content="so?", created_at=104, reply_to_id=101)
    chain, channel, own = await fetch_history(archive, msg, limit=10)
    assert [m.message_id for m in chain] == [100, 101]
    assert [m.message_id for m in channel] == [100, 101, 102]
    assert [m.message_id for m in own] == [101, 103]


async def test_a_dm_fetches_the_members_own_dm_history(archive):
    """DMs are archived under guild 0; the member's own history must be looked up there
    (looking it up under None found nothing)."""
    await archive.add_many([
        ArchivedMessage(message_id=200, guild_id=0, channel_id=50, author_id=7, author_name="ana",
                        content="earlier in my DMs", created_at=200),
        ArchivedMessage(message_id=201, guild_id=1, channel_id=10, author_id=7, author_name="ana",
                        content="in the guild", created_at=201),
    ])
    msg = Incoming(message_id=202, guild_id=None, channel_id=51, channel_name="", author_id=7,
                   author_name="ana", content="and now?", created_at=202)
    *_, own = await fetch_history(archive, msg, limit=10)
    assert [m.message_id for m in own] == [200]
