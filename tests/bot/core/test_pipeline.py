"""The message pipeline: stages in order, STOP, failing hooks, output guards."""

from bot.core.messages import Incoming
from bot.core.pipeline import STOP, MessageHook, OutputCheck, Pipeline, Stage
from tests.bot.recorder import Recorder


def incoming(text="hi"):
    return Incoming(message_id=1, guild_id=5, channel_id=6, channel_name="general",
                    author_id=7, author_name="ana", content=text, created_at=0)


def recording(calls, name, result=None):
    async def hook(event):
        calls.append(name)
        return result

    return hook


async def never_addressed(msg):
    return False


async def test_hooks_run_by_stage_then_load_order():
    calls = []
    pipeline = Pipeline(never_addressed)
    pipeline.add("chat", [MessageHook(Stage.ANSWER, recording(calls, "answer"))], None, None, [])
    pipeline.add("memory", [MessageHook(Stage.OBSERVE, recording(calls, "memory"))], None, None, [])
    pipeline.add("insights", [MessageHook(Stage.OBSERVE, recording(calls, "insights"))], None, None, [])
    pipeline.add("archive", [MessageHook(Stage.ARCHIVE, recording(calls, "archive"))], None, None, [])
    pipeline.add("automod", [MessageHook(Stage.AUTOMOD, recording(calls, "automod"))], None, None, [])
    await pipeline.on_message(incoming(), Recorder())
    assert calls == ["archive", "automod", "memory", "insights", "answer"]


async def test_a_hook_that_stops_a_message_stops_the_rest():
    calls = []
    pipeline = Pipeline(never_addressed)
    pipeline.add("archive", [MessageHook(Stage.ARCHIVE, recording(calls, "archive"))], None, None, [])
    pipeline.add("automod", [MessageHook(Stage.AUTOMOD, recording(calls, "automod", STOP))], None, None, [])
    pipeline.add("chat", [MessageHook(Stage.ANSWER, recording(calls, "answer"))], None, None, [])
    await pipeline.on_message(incoming(), Recorder())
    assert calls == ["archive", "automod"]


async def test_a_failing_hook_is_logged_and_the_message_goes_on(caplog):
    calls = []

    async def broken(event):
        raise RuntimeError("boom")

    pipeline = Pipeline(never_addressed)
    pipeline.add("insights", [MessageHook(Stage.OBSERVE, broken)], None, None, [])
    pipeline.add("chat", [MessageHook(Stage.ANSWER, recording(calls, "answer"))], None, None, [])
    await pipeline.on_message(incoming(), Recorder())
    assert calls == ["answer"] and "insights: the observe hook failed" in caplog.text


async def test_addressed_is_asked_once_per_message():
    asked = []

    async def addressing(msg):
        asked.append(msg.message_id)
        return True

    async def hook(event):
        assert await event.addressed()

    pipeline = Pipeline(addressing)
    pipeline.add("a", [MessageHook(Stage.OBSERVE, hook), MessageHook(Stage.ANSWER, hook)], None, None, [])
    await pipeline.on_message(incoming(), Recorder())
    assert asked == [1]


async def test_closed_pipeline_ignores_messages_and_edits_and_deletes_reach_every_feature():
    calls = []

    async def edit(e):
        calls.append(("edit", e.message_id, e.content))

    async def delete(ids):
        calls.append(("delete", list(ids)))

    pipeline = Pipeline(never_addressed)
    pipeline.add("a", [MessageHook(Stage.ARCHIVE, recording(calls, "hook"))], edit, delete, [])
    pipeline.add("b", [], None, delete, [])
    await pipeline.on_edit(1, "new", 5)
    await pipeline.on_delete({2})
    pipeline.close()
    await pipeline.on_message(incoming(), Recorder())
    assert calls == [("edit", 1, "new"), ("delete", [2]), ("delete", [2])]


async def test_output_guards_first_refusal_wins_and_a_failing_guard_withholds(caplog):
    async def allow(check):
        return None

    async def refuse_links(check):
        return "links are not allowed" if "http" in check.text else None

    async def broken(check):
        raise RuntimeError("classifier down")

    pipeline = Pipeline(never_addressed)
    pipeline.add("a", [], None, None, [allow, refuse_links])
    assert await pipeline.check_output(OutputCheck("hello", 5, 6)) is None
    assert await pipeline.check_output(OutputCheck("see http://x", 5, 6)) == "links are not allowed"
    pipeline.add("b", [], None, None, [broken])
    assert await pipeline.check_output(OutputCheck("hello", 5, 6)) == "b's guard failed"
    assert "withholding the text" in caplog.text
