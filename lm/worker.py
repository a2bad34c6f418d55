"""The engine's worker process: load the model, then run the scheduler until told to close.

lm/engine.py starts it (spawned, never forked) and is its only correspondent, over one
pipe. Messages in: ("submit", id, prompt, messages, params, deadline), ("cancel", id),
("close", drain). Out: ("ready" | "failed", detail) once, then one list of
(id, kind, payload) events per scheduler step (see lm/scheduler.py).
"""
from __future__ import annotations

import pickle
import signal
from dataclasses import dataclass
from pathlib import Path

import torch

from . import native
from .chat import Template
from .model import Llama
from .scheduler import Ending, Job, Scheduler
from .tokenizer import Tokenizer, load_tokenizer


@dataclass
class WorkerSpec:
    """What the worker builds its model from: a folder, or a model shipped to it."""
    folder: Path | None
    device: str
    precision: str
    model: Llama | None
    tokenizer: Path
    template: Template | None
    slots: int
    max_len: int
    prefill_chunk: int
    threads: int | None
    kv_dtype: torch.dtype | None



def serve(conn, spec: WorkerSpec) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle: it closes us
    try:
        if spec.threads:
            torch.set_num_threads(spec.threads)
        model, tok = _build(spec)
        # bf16 keys/values where weights already meet activations in bf16 (int8 or bf16
        # serving): half the bytes a decode step reads over long contexts.
        reduced = model.lm_head.weight.dtype in (torch.int8, torch.bfloat16)
        kv_dtype = spec.kv_dtype or (torch.bfloat16 if reduced else torch.float32)
        if model.model.embed_tokens.weight.device.type == "cpu" and kv_dtype == torch.bfloat16:
            native.available()  # build the attention kernel now, not during the first request
        events: list = []
        sched = Scheduler(model, tok, lambda *e: events.append(e), slots=spec.slots,
                          max_len=spec.max_len, prefill_chunk=spec.prefill_chunk,
                          template=spec.template, kv_dtype=kv_dtype)
    except Exception as e:  # noqa: BLE001 - any load failure is the caller's error to show
        conn.send(("failed", _portable(e)))
        return
    conn.send(("ready", None))
    closing = drain = False
    with torch.inference_mode():
        while True:
            if sched.idle and not closing:
                conn.poll(None)
            try:
                while conn.poll(0):
                    msg = conn.recv()
                    if msg[0] == "submit":
                        _, job_id, prompt, messages, params, deadline = msg
                        try:
                            sched.submit(Job(job_id, prompt, messages, params, deadline, sched.device))
                        except Exception as e:  # noqa: BLE001 - this request's problem alone
                            events += [(job_id, "error", e), (job_id, "end", Ending("error", 0, 0, None))]
                    elif msg[0] == "cancel":
                        sched.cancel(msg[1])
                    else:  # close: drain when asked, until a later close says not to
                        drain = msg[1] and (drain or not closing)
                        closing = True
            except EOFError:  # the caller is gone
                closing, drain = True, False
            if closing and not drain:
                sched.cancel_all()
            else:
                sched.step()
            if events:
                conn.send([(i, kind, _portable(p) if kind == "error" else p) for i, kind, p in events])
                events.clear()
            if closing and sched.idle:
                break
    conn.close()


def _build(spec: WorkerSpec) -> tuple[Llama, Tokenizer]:
    tok = load_tokenizer(spec.tokenizer)
    if spec.model is not None:
        return spec.model, tok
    from .checkpoint import load_for_inference
    model, _ = load_for_inference(spec.folder, spec.device, spec.precision)
    return model, tok


def _portable(e: Exception) -> Exception:
    """The exception itself when it survives a pickle round trip, else its text."""
    try:
        pickle.loads(pickle.dumps(e))
        return e
    except Exception:  # noqa: BLE001
        return RuntimeError(f"{type(e).__name__}: {e}")
