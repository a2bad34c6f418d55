"""ReplyWriter: live messages by throttled edits, split at 2,000 characters, defused."""

from bot.chat.streaming import ReplyWriter
from bot.core.text import DISCORD_LIMIT, ZWSP
from tests.bot.recorder import Recorder


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


async def feed(deltas, clock=None, step=0.0):
    for delta in deltas:
        if clock is not None:
            clock.now += step
        yield delta


async def test_first_text_is_posted_at_once_then_edits_are_throttled():
    out, clock = Recorder(), Clock()
    writer = ReplyWriter(out, interval=1.0, clock=clock)
    text = await writer.write(feed(["Hel", "lo", " there", ",", " friend", "!"], clock, step=0.4))
    assert text == "Hello there, friend!"
    # t=0.4 send "Hel"; 0.8 too early; 1.2 too early (0.8 s after send); 1.6 edit; 2.0 too
    # early; 2.4 final edit at the end of the stream.
    assert [op[:3] for op in out.ops] == [
        ("send", out.ops[0][1], "Hel"),
        ("edit", out.ops[0][1], "Hello there,"),
        ("edit", out.ops[0][1], "Hello there, friend!"),
    ]
    assert out.ops[0][3] is True  # the first message replies to the member


async def test_blank_output_posts_nothing():
    out = Recorder()
    assert await ReplyWriter(out).write(feed(["  ", "\n"])) == ""
    assert out.ops == []


async def test_long_answers_continue_in_new_messages_within_the_limit():
    out = Recorder()
    words = [f"word{i} " for i in range(1200)]  # about 9,000 characters
    await ReplyWriter(out, interval=0.0).write(feed(words))
    finals = out.final_texts()
    assert len(finals) >= 4
    assert all(len(text) <= DISCORD_LIMIT for text in finals)
    assert " ".join(finals).split() == "".join(words).split()
    sends = [op for op in out.ops if op[0] == "send"]
    assert [op[3] for op in sends] == [True] + [False] * (len(sends) - 1)
    assert all(len(op[2]) <= DISCORD_LIMIT for op in out.ops if op[0] != "delete")


async def test_a_mention_split_across_deltas_is_never_shown():
    out = Recorder()
    await ReplyWriter(out, interval=0.0).write(feed(["Hi @every", "one and <@", "&123> \x00bye"]))
    shown = [op[2] for op in out.ops]
    assert all("@everyone" not in text and "<@&" not in text for text in shown)
    assert out.final_texts() == [f"Hi @{ZWSP}everyone and <@{ZWSP}&123> bye"]
