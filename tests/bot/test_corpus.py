"""The training corpus: the PII scrub, consent (an opted-out or not-opted-in member is
absent), bot and moderated messages dropped, threads and reply chains as conversations,
duplicates skipped, and `python -m bot export-corpus` end to end into `lm`'s reader."""

import json

import pytest

from bot.privacy.consent import Consent
from bot.privacy.corpus import export_corpus, scrub
from bot.store import Archive, ArchivedMessage
from lm.sources import parse_source, read_source

GUILD, CHANNEL = 5, 50
ANA, BO, CY, BOT = 1001, 1002, 1003, 9


@pytest.mark.parametrize("text, expected", [
    ("mail me at jane.doe+shop@example.co.uk please", "mail me at <email> please"),
    ("call +44 20 7946 0958 or (555) 123-4567", "call <phone> or <phone>"),
    ("my order #48213 never came", "my order <order> never came"),
    ("Order number: AB-12345 is late", "order <order> is late"),
    ("ship it to 221B Baker Street, London", "ship it to <address>, London"),
    ("hey <@123456789012345678>, ask <@&987654321098765432> in <#112233445566778899>",
     "hey <user>, ask <role> in <channel>"),
    ("my user id is 123456789012345678", "my user id is <id>"),
    ("card 4111 1111 1111 1111 expired", "card <card> expired"),
    # what is not personal stays
    ("I wear size 38 and bought 2 shirts for $45.50 in 2024", None),
    ("I will order more socks at 10:30 on 12/05", None),
])
def test_the_scrub(text, expected):
    assert scrub(text) == (text if expected is None else expected)


def msg(mid, author, text, *, reply_to=None, thread=None, is_bot=False):
    return ArchivedMessage(mid, GUILD, CHANNEL, author, text, 1_000 + mid, thread_id=thread,
                           reply_to_id=reply_to, is_bot=is_bot)


async def test_only_consenting_members_clean_and_once(db, tmp_path):
    consent = Consent(db)
    await consent.set_member(GUILD, ANA, training="in")
    await consent.set_member(GUILD, BO, training="in")  # cy never opted in
    await Archive(db).add_many([
        msg(1, ANA, "does the linen shirt shrink? email me at ana@example.com"),
        msg(2, BO, "not if you wash it cold", reply_to=1),
        msg(3, BOT, "Wash it at 30 degrees.", reply_to=1, is_bot=True),
        msg(4, CY, "mine shrank a bit", reply_to=2),               # no consent: left out
        msg(5, ANA, "thanks!", reply_to=2),
        msg(6, BO, "buy cheap pills at ...", reply_to=5),           # moderated: left out
        msg(10, ANA, "anyone going to the market?", thread=900),    # a thread
        msg(11, BO, "yes, Saturday", thread=900),
        msg(20, ANA, "anyone going to the market?", thread=901),    # the same conversation
        msg(21, BO, "yes, Saturday", thread=901),
        msg(30, ANA, "hello?"),                                     # alone: no conversation
    ])
    await db.write("INSERT INTO mod_cases (guild_id, number, user_id, actor_id, action, reason, "
                   "message_id, created_at) VALUES (?, 1, ?, 7, 'delete', 'spam', 6, 0)", (GUILD, BO))
    out = tmp_path / "corpus.jsonl"
    summary = await export_corpus(db, out, progress=False)
    assert (summary.conversations, summary.skipped_consent, summary.skipped_moderated,
            summary.duplicates) == (2, 1, 1, 1)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines[0]["messages"] == [
        {"role": "user", "content": "does the linen shirt shrink? email me at <email>"},
        {"role": "assistant", "content": "not if you wash it cold"},
        {"role": "user", "content": "thanks!"}]
    assert [m["content"] for m in lines[1]["messages"]] == ["anyone going to the market?",
                                                            "yes, Saturday"]
    assert "mine shrank" not in out.read_text() and "Wash it at 30" not in out.read_text()
    chats = list(read_source(parse_source(str(out))))
    assert len(chats) == 2 and chats[0].messages[0][0] == "user"
    (row,) = await db.fetchall("SELECT guild_id, message_count, last_message_id FROM corpus_exports")
    assert tuple(row) == (None, 5, 30)


async def test_an_opt_out_removes_a_member_even_where_training_is_on(db, tmp_path):
    consent = Consent(db)
    await consent.set_guild(GUILD, "training_consent", "on")
    await consent.set_member(GUILD, CY, storage="out", training="out")
    await Archive(db).add_many([msg(1, ANA, "hi all"), msg(2, CY, "hey", reply_to=1),
                                msg(3, BO, "morning!", reply_to=1)])
    out = tmp_path / "c.jsonl"
    summary = await export_corpus(db, out, guild=GUILD, progress=False)
    assert summary.skipped_consent == 1
    assert [m["content"] for m in json.loads(out.read_text())["messages"]] == ["hi all", "morning!"]


def test_the_command_writes_the_file_and_prints_a_summary(tmp_path, monkeypatch, capsys):
    import asyncio

    from bot.cli import main
    from bot.store import Database

    async def seed():
        db = await Database.open(tmp_path / "bot.db")
        await Consent(db).set_guild(GUILD, "training_consent", "on")
        await Archive(db).add_many([msg(1, ANA, "hi, call me on 07700 900123"),
                                    msg(2, BO, "will do", reply_to=1)])
        await db.close()

    asyncio.run(seed())
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "out" / "corpus.jsonl"
    assert main(["export-corpus", str(out), "--db", str(tmp_path / "bot.db"),
                 "--since", "1970-01-01"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["conversations"] == 1 and summary["path"] == str(out)
    assert "<phone>" in out.read_text() and "07700" not in out.read_text()
    with pytest.raises(SystemExit) as exited:  # argparse: usage and the reason, status 2
        main(["export-corpus", str(out), "--since", "yesterday"])
    assert exited.value.code == 2 and "not a date like" in capsys.readouterr().err
