"""The chat answer through the real pipeline (archive, memory, chat), a real database and
the real tiny model, answering into a Recorder."""

import asyncio

import pytest_asyncio

from bot.chat.service import (BUSY_NOTE, COOLDOWN_NOTE, CROWDED_NOTE, ERROR_NOTE,
                              WITHHELD_NOTE)
from bot.core.messages import Incoming, MessageGone
from bot.model import ModelError
from tests.bot.harness import BOT, Community
from tests.bot.recorder import Recorder, next_id

GUILD, GENERAL, SUPPORT = 100, 101, 102


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def message(content, *, author=7, name="ana", channel=GENERAL, channel_name="general", **kw):
    return Incoming(message_id=next_id(), guild_id=GUILD, channel_id=channel,
                    channel_name=channel_name, author_id=author, author_name=name,
                    content=content, created_at=0, **kw)


@pytest_asyncio.fixture
async def make_service(db, local_model):
    made = []

    def make(model=local_model, clock=None, edit_interval=1.0, **env):
        community = Community(db, model, clock=clock or Clock(), edit_interval=edit_interval, **env)
        made.append(community)
        return community

    yield make
    for community in made:
        await community.close()


async def archived_ids(db):
    return {row[0] for row in await db.fetchall("SELECT message_id FROM messages")}


async def test_mentioned_it_answers_and_archives_both_sides(make_service, db):
    service, out = make_service(), Recorder()
    msg = message("hello @bot", mentions_bot=True)
    await service.on_message(msg, out)
    await service.writer.flush()
    assert out.ops and out.ops[0][0] == "send" and out.ops[0][3] is True
    answer = await db.fetchone("SELECT author_id, is_bot, reply_to_id FROM messages "
                               "WHERE message_id = ?", (out.ops[0][1],))
    assert tuple(answer) == (BOT, 1, msg.message_id)


async def test_when_it_answers(make_service):
    service = make_service()
    cases = [
        (message("chatting"), False),
        (message("from a bot", author=99, name="otherbot", author_is_bot=True, mentions_bot=True), False),
        (message("its own message", author=BOT, name="bot", mentions_bot=True), False),
        (message("in an answer channel", channel=SUPPORT, channel_name="support"), True),
        (message("replying to the bot", reply_to_id=5, reply_to_author_id=BOT), True),
        (Incoming(message_id=next_id(), guild_id=None, channel_id=555, channel_name="",
                  author_id=7, author_name="ana", content="a DM", created_at=0), True),
    ]
    for msg, answered in cases:
        out = Recorder()
        await service.on_message(msg, out)
        assert bool(out.ops) is answered, msg.content


async def test_a_thread_the_bot_took_part_in_continues_without_a_mention(make_service):
    service = make_service()
    thread = 4_000
    quiet = message("anyone here?", thread_id=thread)
    out = Recorder()
    await service.on_message(quiet, out)
    assert out.ops == []
    await service.on_message(message("help", thread_id=thread, mentions_bot=True), Recorder())
    out = Recorder()
    await service.on_message(message("and another thing", thread_id=thread), out)
    assert out.ops


async def test_cooldown_notes_once_then_stays_silent(make_service):
    clock = Clock()
    service = make_service(clock=clock, MEMBER_COOLDOWN_S="30")
    outs = [Recorder() for _ in range(4)]
    await service.on_message(message("q1", mentions_bot=True), outs[0])
    clock.now += 10
    await service.on_message(message("q2", mentions_bot=True), outs[1])
    await service.on_message(message("q3", mentions_bot=True), outs[2])
    assert outs[1].final_texts() == [COOLDOWN_NOTE.format(seconds=20)]
    assert outs[2].ops == []
    # Another member is not affected; and after the window the first one is answered.
    other = Recorder()
    await service.on_message(message("hi", author=8, name="bo", mentions_bot=True), other)
    assert other.ops and not any(COOLDOWN_NOTE[:10] in t for t in other.final_texts())
    clock.now += 21
    await service.on_message(message("q4", mentions_bot=True), outs[3])
    assert outs[3].ops and COOLDOWN_NOTE[:10] not in outs[3].final_texts()[0]


async def test_channel_concurrency_limit(make_service):
    service = make_service(CHANNEL_CONCURRENCY="1")
    first_out, second_out = Recorder(), Recorder()
    first = asyncio.create_task(service.on_message(message("q1", mentions_bot=True), first_out))
    await first_out.typing_started.wait()  # the first answer holds the channel's only slot
    await service.on_message(message("q2", author=8, name="bo", mentions_bot=True), second_out)
    assert second_out.final_texts() == [CROWDED_NOTE]
    await first
    assert first_out.ops
    third_out = Recorder()  # the slot is free again
    await service.on_message(message("q3", author=8, name="bo", mentions_bot=True), third_out)
    assert third_out.ops and CROWDED_NOTE not in third_out.final_texts()


async def test_a_remembered_fact_shows_up_in_a_later_prompt(make_service):
    service = make_service()
    await service.on_message(message("I'm a size M, thanks!", mentions_bot=True), Recorder())
    request = await service.chat.build_request(message("which shirt should I get?", mentions_bot=True))
    system = request.messages[0][1]
    assert "size M" in system
    assert request.messages[-1] == ("user", "ana: which shirt should I get?")
    # Earlier turns are in the prompt too: the member's question and the bot's answer.
    assert ("user", "ana: I'm a size M, thanks!") in request.messages
    assert any(role == "assistant" for role, _ in request.messages)


async def test_a_deleted_message_leaves_the_archive(make_service, db):
    service = make_service()
    msg = message("just chatting")
    await service.on_message(msg, Recorder())
    await service.writer.flush()
    assert msg.message_id in await archived_ids(db)
    await service.pipeline.on_delete([msg.message_id])
    assert msg.message_id not in await archived_ids(db)


async def test_deleting_the_question_withdraws_the_answer_in_progress(make_service, db):
    service, out = make_service(), Recorder()
    msg = message("tell me a long story", mentions_bot=True)
    task = asyncio.create_task(service.on_message(msg, out))
    await out.typing_started.wait()
    await service.pipeline.on_delete([msg.message_id])
    await task
    assert out.final_texts() == []  # anything posted was deleted again
    assert await archived_ids(db) == set()


async def test_edits_update_the_archive(make_service, db):
    service = make_service()
    msg = message("first version")
    await service.on_message(msg, Recorder())
    await service.pipeline.on_edit(msg.message_id, "second version", 5)
    row = await db.fetchone("SELECT content, edited_at FROM messages WHERE message_id = ?",
                            (msg.message_id,))
    assert tuple(row) == ("second version", 5)


async def test_busy_model_gives_a_friendly_note(make_service, tiny_model_dir):
    from bot.model import LocalModel

    model = LocalModel.load(tiny_model_dir, device="cpu")
    await model.close()  # a closed model answers Busy, like a saturated engine
    out = Recorder()
    await make_service(model=model).on_message(message("hi", mentions_bot=True), out)
    assert out.final_texts() == [BUSY_NOTE]


class FailingModel:
    """Stands in for an engine whose generation breaks after some text."""

    context_window = 256

    def count_tokens(self, text):
        return len(text.split())

    def count_prompt(self, messages):
        return sum(self.count_tokens(content) + 2 for _, content in messages)

    async def _fail(self):
        yield "Our return policy"
        raise ModelError("generation failed")

    def stream(self, request):
        return self._fail()


async def test_model_failure_gives_a_friendly_note_and_no_traceback(make_service, caplog):
    out = Recorder()
    await make_service(model=FailingModel()).on_message(message("hi", mentions_bot=True), out)
    assert out.final_texts() == ["Our return policy", ERROR_NOTE]
    assert "answering message" in caplog.text


async def test_an_answer_the_output_guard_refuses_is_withdrawn_and_explained(make_service, db):
    service, out = make_service(), Recorder()
    checked = []

    async def guard(check):
        checked.append(check)
        return "test rule" if len(checked) >= 2 else None  # the first text passes, then not

    service.pipeline.add("test", (), None, None, [guard])
    await service.on_message(message("hello @bot", mentions_bot=True), out)
    assert out.final_texts() == [WITHHELD_NOTE]
    assert any(op[0] == "delete" for op in out.ops)  # what was shown went away
    assert checked[0].purpose == "answer" and checked[0].guild_id == GUILD
    await service.writer.flush()
    bot_rows = await db.fetchall("SELECT content FROM messages WHERE is_bot = 1")
    assert [r[0] for r in bot_rows] == [WITHHELD_NOTE]


async def test_a_refused_answer_is_written_once_more_and_the_mod_log_told(make_service, db):
    service = make_service()
    await service.services.guilds.set_guild(GUILD, "modlog_channel_id", 555)
    checks, out = [], Recorder()

    async def guard(check):
        checks.append(check.text)
        return "test rule" if len(checks) == 1 else None  # the first attempt's text is refused

    service.pipeline.add("test", (), None, None, [guard])
    await service.on_message(message("hello @bot", mentions_bot=True), out)
    texts = out.final_texts()
    assert texts and WITHHELD_NOTE not in texts and len(checks) >= 2  # written again, shown
    (kind, target, reply), = service.poster.calls
    assert target.channel_id == 555 and "test rule" in reply.text


async def test_text_is_never_shown_before_the_guard_passed_it(make_service):
    service, out = make_service(), Recorder()
    shown_before_check = []

    async def guard(check):
        shown_before_check.append(any(op[0] == "send" and op[2] != WITHHELD_NOTE for op in out.ops))
        return "always refuse"

    service.pipeline.add("test", (), None, None, [guard])
    await service.on_message(message("hello @bot", mentions_bot=True), out)
    assert shown_before_check and not any(shown_before_check)
    assert out.final_texts() == [WITHHELD_NOTE] and not any(op[0] == "edit" for op in out.ops)


class Vanishing(Recorder):
    """A channel where a moderator deletes the bot's answer right after it is posted."""

    async def send(self, text, *, reply):
        sent = await super().send(text, reply=reply)

        async def gone(new_text):
            raise MessageGone(sent.id)

        sent.edit = gone
        return sent


async def test_an_answer_deleted_mid_stream_is_withdrawn_quietly(make_service, db, caplog):
    service, out = make_service(edit_interval=0.0), Vanishing()  # edits on every delta
    await service.on_message(message("tell me everything @bot", mentions_bot=True), out)
    assert [op[0] for op in out.ops][:1] == ["send"]
    assert ERROR_NOTE not in out.final_texts()
    assert "Traceback" not in caplog.text and "answering message" not in caplog.text
    await service.writer.flush()
    assert await db.fetchall("SELECT 1 FROM messages WHERE is_bot = 1") == []


async def test_without_send_permission_it_stays_silent_and_keeps_the_cooldown(make_service):
    service = make_service(MEMBER_COOLDOWN_S="30")
    await service.on_message(message("q1", mentions_bot=True), Recorder(writable=False))
    out = Recorder()
    await service.on_message(message("q2", mentions_bot=True), out)
    assert out.ops and COOLDOWN_NOTE[:10] not in out.final_texts()[0]
