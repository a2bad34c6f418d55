"""The engine: batching never changes answers, slots are freed, Busy recovers, the loop stays free."""
import asyncio
import copy
import multiprocessing
import time

import pytest
import torch

from lm import quant
from lm.engine import BadRequest, Busy, DeadlineExceeded, Engine, EngineClosed, PromptTooLong, Request
from lm.model import Llama
from lm.sample import SamplingParams, TextStream, generate_ids

from .test_model import make


def greedy(n: int, **kw) -> SamplingParams:
    return SamplingParams(temperature=0, max_new_tokens=n, **kw)


@pytest.fixture
def model():
    return make(max_position_embeddings=256)


@pytest.fixture
async def engine(model, tokenizer):
    eng = Engine(model, tokenizer, slots=4, max_queue=4, prefill_chunk=16).start()
    yield eng
    await eng.close(drain=False)


class GatedLlama(Llama):
    """A Llama whose every forward pass (a prompt chunk, or one decode step) first takes a
    permit the test hands out with `allow`. The engine's worker then makes exactly as many
    model calls as the test allows, so "the answer is still being generated when X happens"
    holds by construction on any machine, fast or slow. Module level: the spawned worker
    unpickles it (the permits are a semaphore shared with this process)."""

    def __init__(self, model: Llama):
        super().__init__(model.config)
        self.load_state_dict(model.state_dict())
        self.permits = multiprocessing.get_context("spawn").Semaphore(0)

    def allow(self, calls: int) -> None:
        for _ in range(calls):
            self.permits.release()

    def forward(self, *args, **kwargs):
        self.permits.acquire()
        return super().forward(*args, **kwargs)


def reference(model, tokenizer, prompt: str, p: SamplingParams) -> str:
    ids = [tokenizer.bos_id, *tokenizer.encode(prompt)]
    stream = TextStream(tokenizer, ids, p.stop)
    out = ""
    for t in generate_ids(model, ids, p, set(model.config.eos_ids)):
        out += stream.push(t)
        if stream.stopped:
            return out
    return out + stream.finish()


PROMPTS = ["Hello", "The linen shirt runs large; I'd size down " * 3, "我很喜欢这件连衣裙",
           "Order 1234 arrived 🎉 " * 6, "What is your return policy?", "a"]


async def test_greedy_output_is_identical_alone_and_batched(model, tokenizer, engine):
    lengths = [40, 12, 33, 7, 25, 18]
    alone = [reference(model, tokenizer, p, greedy(n)) for p, n in zip(PROMPTS, lengths)]

    async def staggered(i):
        await asyncio.sleep(0.01 * i)  # join while others are mid-way
        return await engine.complete(Request(prompt=PROMPTS[i], params=greedy(lengths[i])))

    results = await asyncio.gather(*(staggered(i) for i in range(len(PROMPTS))))
    assert [r.text for r in results] == alone
    assert all(r.finish_reason in ("length", "stop") for r in results)
    assert max(r.completion_tokens for r in results) > 1


async def test_seeded_sampling_does_not_depend_on_the_batch(engine):
    p = SamplingParams(temperature=1.0, top_k=40, top_p=0.9, max_new_tokens=20, seed=11)
    alone = await engine.complete(Request(prompt="Hi there", params=p))
    crowd = await asyncio.gather(*[engine.complete(Request(prompt="Hi there", params=p)) for _ in range(3)],
                                 engine.complete(Request(prompt="other", params=greedy(30))))
    assert all(c.text == alone.text for c in crowd[:3])


async def test_stream_concatenates_to_the_final_text(engine):
    req = Request(prompt="Order 1234 🎉", params=greedy(30))
    deltas = [d async for d in engine.stream(req)]
    final = await engine.complete(req)
    assert "".join(deltas) == final.text and len(deltas) > 1


async def test_stop_strings_are_honoured(engine):
    full = (await engine.complete(Request(prompt="Hello", params=greedy(30)))).text
    stop = full[5:8]
    assert stop and stop in full
    cut = await engine.complete(Request(prompt="Hello", params=greedy(30, stop=(stop,))))
    assert cut.text == full[:full.index(stop)] and cut.finish_reason == "stop"


async def test_cancel_and_deadline_free_the_slot_for_the_next_request(model, tokenizer):
    gate = GatedLlama(model)
    eng = Engine(gate, tokenizer, slots=1, max_queue=2).start()
    try:
        # A deadline that passes mid-answer. The worker may make 16 of the 250 model calls the
        # answer needs, then waits; it is let go only once the deadline has certainly passed,
        # so it must end the answer at its next step, however fast the machine. (The 0.5 s
        # are for the idle worker to start a two-token prompt, the only thing timed here: a
        # DeadlineExceeded at the first delta would mean it took longer.)
        stream = eng.stream(Request(prompt="z", params=greedy(250, ignore_eos=True), timeout_s=0.5))
        passed = time.monotonic() + 0.5  # no earlier than the engine's own deadline
        gate.allow(16)
        assert isinstance(await asyncio.wait_for(anext(stream), 30), str)  # under way
        while time.monotonic() <= passed:
            await asyncio.sleep(passed - time.monotonic())
        gate.allow(10_000)  # from here on the worker runs freely
        with pytest.raises(DeadlineExceeded):
            async for _ in stream:
                pass
        # At most the calls it was allowed, and the one it was waiting in when let go.
        assert 1 <= eng.tokens_generated <= 16 + 1 and eng.load == 0

        quick = await asyncio.wait_for(eng.complete(Request(prompt="y", params=greedy(5))), 30)
        assert quick.completion_tokens >= 1
        stream = eng.stream(Request(prompt="x", params=greedy(200)))
        assert isinstance(await stream.__anext__(), str)
        await stream.aclose()  # the member deleted their message
        again = await asyncio.wait_for(eng.complete(Request(prompt="y", params=greedy(5))), 30)
        assert again.text == quick.text
        assert eng.load == 0
    finally:
        gate.allow(10_000)  # a failure above must not leave the worker waiting for permits
        await eng.close()


async def test_full_queue_raises_busy_and_recovers(model, tokenizer):
    eng = Engine(model, tokenizer, slots=1, max_queue=1).start()
    try:
        held = [asyncio.create_task(eng.complete(Request(prompt="a", params=greedy(60)))) for _ in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(Busy):
            await eng.complete(Request(prompt="b", params=greedy(5)))
        await asyncio.gather(*held)
        ok = await eng.complete(Request(prompt="b", params=greedy(5)))
        assert ok.completion_tokens >= 1
    finally:
        await eng.close()


async def test_event_loop_stays_responsive_while_saturated(model, tokenizer):
    """While the engine is saturated the loop runs between one answer's deltas. Counted in
    loop iterations, not time: no machine is too fast or too slow for it. An engine that
    generated on the loop's thread would hand over every delta in one iteration."""
    eng = Engine(model, tokenizer, slots=4, max_queue=16).start()
    ticks, running = 0, True

    async def ticker():
        nonlocal ticks
        while running:
            await asyncio.sleep(0)  # once per loop iteration
            ticks += 1

    async def watched() -> list[int]:
        at = []  # the tick count as each delta arrives
        async for _ in eng.stream(Request(prompt="Hello", params=greedy(200, ignore_eos=True))):
            at.append(ticks)
        return at

    tick = asyncio.create_task(ticker())
    try:
        at, *_ = await asyncio.gather(watched(), *[eng.complete(Request(prompt=p * 2, params=greedy(40)))
                                                   for p in PROMPTS * 3])
    finally:
        running = False
        await tick
        await eng.close()
    assert len(at) > 1 and at[-1] > at[0], "the loop ticked between the first and the last delta"


async def test_close_drains_in_flight_requests_and_then_refuses(model, tokenizer):
    eng = Engine(model, tokenizer, slots=2).start()
    task = asyncio.create_task(eng.complete(Request(prompt="drain me", params=greedy(20))))
    await asyncio.sleep(0.01)
    await eng.close(drain=True)
    assert (await task).completion_tokens >= 1
    with pytest.raises(EngineClosed):
        await eng.complete(Request(prompt="late"))
    assert eng.load == 0 and eng._proc is None


async def test_chat_requests_use_the_role_template(model, tokenizer, engine):
    r = await engine.complete(Request(messages=[("system", "Be brief."), ("user", "hi")], params=greedy(10)))
    assert r.prompt_tokens == len([tokenizer.bos_id, *tokenizer.encode_chat(
        [("system", "Be brief."), ("user", "hi")], add_generation_prompt=True)])


async def test_a_prompt_too_long_fails_alone(engine):
    ok = asyncio.create_task(engine.complete(Request(prompt="fine", params=greedy(20))))
    with pytest.raises(PromptTooLong):
        await engine.complete(Request(prompt="word " * 400, params=greedy(5)))
    assert (await ok).completion_tokens >= 1


@pytest.mark.skipif(not quant.supported(), reason="this torch build has no CPU int8 kernel")
async def test_int8_serving_stays_close_to_fp32(model, tokenizer):
    x = torch.randint(3, 640, (2, 40))
    with torch.inference_mode():
        ref = model(x)
        q = quant.quantize_int8(copy.deepcopy(model))
        got = q(x)
    assert ((got - ref).norm() / ref.norm()) < 0.05
    eng = Engine(q, tokenizer, slots=2).start()
    try:
        alone = await eng.complete(Request(prompt="Hello", params=greedy(12)))
        both = await asyncio.gather(eng.complete(Request(prompt="Hello", params=greedy(12))),
                                    eng.complete(Request(prompt="other words", params=greedy(30))))
        assert both[0].text == alone.text and alone.completion_tokens >= 1
    finally:
        await eng.close()


async def test_chat_template_comes_from_the_folder(model_dir, tmp_path):
    import json
    eng = Engine.from_dir(model_dir, device="cpu", slots=1).start()
    try:
        assert eng.template.name == "lm"
        r = await eng.complete(Request(messages=[("user", "hi")], params=greedy(5)))
        assert r.finish_reason in ("stop", "length")
        with pytest.raises(Exception, match="unknown chat role"):
            await eng.complete(Request(messages=[("robot", "hi")], params=greedy(5)))
    finally:
        await eng.close()
    cfg = json.loads((model_dir / "tokenizer_config.json").read_text())
    (model_dir / "tokenizer_config.json").write_text(json.dumps(cfg | {"lm_template": "chatml"}))
    assert Engine.from_dir(model_dir, device="cpu").template.name == "chatml"
    assert Engine.from_dir(model_dir, device="cpu", template="zephyr").template.name == "zephyr"


def test_a_model_that_cannot_load_fails_at_start(model_dir):
    weights = model_dir / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])  # truncated in transit
    with pytest.raises(Exception, match="truncated|incomplete|corrupt|model.safetensors"):
        Engine.from_dir(model_dir, device="cpu").start()


async def test_a_dead_worker_fails_requests_in_flight_and_refuses_more(model, tokenizer):
    eng = Engine(model, tokenizer, slots=2).start()
    stream = eng.stream(Request(prompt="x", params=greedy(200)))
    assert isinstance(await stream.__anext__(), str)
    eng._proc.kill()  # an out-of-memory kill, say
    with pytest.raises(EngineClosed):
        async for _ in stream:
            pass
    with pytest.raises(EngineClosed):
        await eng.complete(Request(prompt="y"))
    await eng.close()


async def test_a_malformed_request_fails_alone_at_the_call(engine):
    other = asyncio.create_task(engine.complete(Request(prompt="still fine", params=greedy(20))))
    for bad in (Request(prompt="x", params=SamplingParams(seed=2**64)),
                Request(prompt="x", params=SamplingParams(stop=("",))),
                Request(prompt=b"bytes"),
                Request(messages=[("user", 42)]),
                Request(messages=["not a pair"])):
        with pytest.raises(BadRequest):
            await engine.complete(bad)
    # A lone stop string and a generator of turns are what callers mean, not errors.
    one = await engine.complete(Request(prompt="Hello", params=greedy(30, stop="e")))
    assert "e" not in one.text
    turns = (t for t in [("user", "hi")])
    assert (await engine.complete(Request(messages=turns, params=greedy(3)))).finish_reason in ("stop", "length")
    assert (await other).completion_tokens >= 1 and engine.load == 0


async def test_a_closed_engine_does_not_restart(model, tokenizer):
    eng = Engine(model, tokenizer, slots=1).start()
    await eng.close()
    with pytest.raises(EngineClosed):
        eng.start()


async def test_a_stream_dropped_unread_frees_its_slot(model, tokenizer):
    import gc
    eng = Engine(model, tokenizer, slots=1, max_queue=2).start()
    try:
        unread = eng.stream(Request(prompt="x", params=greedy(240, ignore_eos=True)))
        del unread
        gc.collect()
        quick = await asyncio.wait_for(eng.complete(Request(prompt="y", params=greedy(5))), 30)
        assert quick.completion_tokens >= 1 and eng.load == 0
        assert eng.tokens_generated < 240 + quick.completion_tokens  # the dropped one was cut short
    finally:
        await eng.close()
