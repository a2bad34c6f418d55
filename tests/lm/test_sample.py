import torch

from lm.sample import SamplingParams, TextStream, apply_repetition_penalty, generate_ids, sample_token

from .test_model import make


def stream_all(tokenizer, text, stop=()):
    prompt = [tokenizer.bos_id, *tokenizer.encode("Say:")]
    ids = tokenizer.encode(text)  # the dummy prefix makes its leading space
    s = TextStream(tokenizer, prompt, stop)
    deltas = []
    for t in ids:
        deltas.append(s.push(t))
        if s.stopped:
            break
    deltas.append(s.finish())
    return deltas, s


def test_deltas_are_whole_characters_and_concatenate_to_the_text(tokenizer):
    text = "rare 𝔘𝔫𝔦 emoji 🧵🫠 and 中文 ok"
    assert any(tokenizer.sp.is_byte(i) for i in tokenizer.encode(text)), "needs byte fallback"
    deltas, _ = stream_all(tokenizer, text)
    assert not any("\ufffd" in d for d in deltas)
    assert "".join(deltas) == " " + text


def test_stop_string_split_across_tokens_never_leaks(tokenizer):
    deltas, s = stream_all(tokenizer, "order 1298 then more", stop=("98",))
    assert s.stopped
    assert "".join(deltas) == " order 12"
    assert not any("9" in d for d in deltas)


def test_stop_string_absent_emits_everything(tokenizer):
    deltas, s = stream_all(tokenizer, "nothing to see", stop=("STOP",))
    assert not s.stopped and "".join(deltas) == " nothing to see"


def test_sample_token_modes():
    logits = torch.tensor([1.0, 3.0, 2.0, -1.0])
    assert sample_token(logits, SamplingParams(temperature=0), None) == 1
    g = torch.Generator().manual_seed(0)
    assert {sample_token(logits, SamplingParams(temperature=1.0, top_k=1), g) for _ in range(20)} == {1}
    assert {sample_token(logits, SamplingParams(temperature=1.0, top_p=0.01), g) for _ in range(20)} == {1}
    seen = {sample_token(logits, SamplingParams(temperature=1.0, top_k=2), g) for _ in range(200)}
    assert seen == {1, 2}


def test_repetition_penalty_lowers_seen_tokens_of_either_sign():
    logits = torch.tensor([2.0, -2.0, 1.0])
    out = apply_repetition_penalty(logits, torch.tensor([0, 1]), 2.0)
    assert out.tolist() == [1.0, -4.0, 1.0]


def test_seeded_sampling_is_reproducible_and_greedy_is_deterministic():
    model = make()
    p = SamplingParams(temperature=1.0, top_k=50, max_new_tokens=20, seed=7)
    a = list(generate_ids(model, [1, 5, 9], p, set()))
    b = list(generate_ids(model, [1, 5, 9], p, set()))
    assert a == b and len(a) == 20
    g = SamplingParams(temperature=0, max_new_tokens=20)
    assert list(generate_ids(model, [1, 5, 9], g, set())) == list(generate_ids(model, [1, 5, 9], g, set()))


def test_generation_stops_at_stop_ids_and_respects_context():
    model = make()
    p = SamplingParams(temperature=1.0, max_new_tokens=30, seed=3)
    first = list(generate_ids(model, [1, 5, 9], p, set()))
    k = next(i for i, t in enumerate(first) if i > 0 and t not in first[:i])
    assert list(generate_ids(model, [1, 5, 9], p, {first[k]})) == first[:k]
    long_prompt = list(range(3, 200))  # longer than the 96-token context
    out = list(generate_ids(model, long_prompt, SamplingParams(temperature=0, max_new_tokens=500), set()))
    assert len(out) == 95
