"""`python -m lm train`: maximise the likelihood of the community's text.

The loop is nanoGPT's (AdamW, warmup + cosine, clipping, accumulation) on a Llama.
Data preparation and tokenizer training happen on first use and are cached in the
output folder, so `train` is one command from raw text to a loadable checkpoint.

Runs under torchrun as DDP (gloo on CPU, nccl on GPU). Ctrl-C stops at the next step
boundary and saves, so `--resume` continues exactly.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from . import checkpoint
from .clean import document_text, load_corpus
from .data import TokenFile, prepare, read_meta
from .device import autocast, keep_freed_memory, pick_device, pick_dtype
from .errors import LMError
from .model import Llama, ModelConfig
from .plot import plot_loss
from .presets import TrainConfig
from .chat import folder_template
from .tokenizer import HF_FILE, SP_FILE, Tokenizer, load_tokenizer, tokenizer_file, train_tokenizer
from .trainstate import STATE, check_same_run, load_state, save_state


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self):
        if self.world > 1:
            dist.barrier()

    def mean(self, value: float) -> float:
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(t)
        return t.item() / self.world

    def max(self, value: float) -> float:
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return t.item()


def setup_dist(device_request: str) -> tuple[Dist, torch.device]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist(), pick_device(device_request)
    d = Dist(int(os.environ["RANK"]), world, int(os.environ["LOCAL_RANK"]))
    device = pick_device(device_request)
    if device.type == "cuda":
        device = torch.device("cuda", d.local_rank)
        torch.cuda.set_device(device)
    else:
        local = int(os.environ.get("LOCAL_WORLD_SIZE", world))
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return d, device


def lr_at(cfg: TrainConfig, step: int, elapsed_s: float) -> float:
    """Linear warmup, then cosine to min_lr over whichever budget (steps or time) ends first,
    or constant without decay_lr."""
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    if not cfg.decay_lr:
        return cfg.learning_rate
    frac = (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)
    if cfg.max_minutes:
        frac = max(frac, elapsed_s / (cfg.max_minutes * 60))
    frac = min(frac, 1.0)
    return cfg.min_lr + 0.5 * (1 + math.cos(math.pi * frac)) * (cfg.learning_rate - cfg.min_lr)


def make_optimizer(model: Llama, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Weight decay on matrices only: decaying norms' gains and biases just hurts."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": other, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2), fused=True)


def prepare_run(cfg: TrainConfig, sources: list[str], out: Path, init_from: Path | None,
                limit_docs: int | None) -> None:
    """Tokenizer and token files in `out`, reused while sources and tokenizer are unchanged."""
    data_dir = out / "data"
    out.mkdir(parents=True, exist_ok=True)
    if init_from is not None:
        load_tokenizer(init_from)  # validate before copying
        for name in (SP_FILE, HF_FILE, checkpoint.TOKENIZER_CONFIG, checkpoint.CHAT_TEMPLATE):
            if (init_from / name).exists():  # the chat template travels with the tokenizer
                (out / name).write_bytes((init_from / name).read_bytes())
    tok_path = tokenizer_file(out)
    key = lambda: {"sources": sources, "limit_docs": limit_docs, "val_fraction": cfg.val_fraction,
                   "tokenizer": hashlib.sha256(tok_path.read_bytes()).hexdigest()}
    if tok_path.exists() and read_meta(data_dir).get("key") == key():
        return
    docs = load_corpus(sources, limit=limit_docs)
    if not tok_path.exists():
        print(f"training a {cfg.vocab_size}-piece tokenizer on {len(docs)} documents",
              file=sys.stderr, flush=True)
        train_tokenizer((document_text(d) for d in docs), cfg.vocab_size, tok_path)
    meta = prepare(docs, load_tokenizer(tok_path), data_dir, cfg.val_fraction, key(),
                   folder_template(out))  # chats as the model was tuned
    if meta["train"]["tokens"] < cfg.block_size + 2 or meta["val"]["tokens"] < cfg.block_size + 2:
        raise LMError(f"corpus too small: {meta['train']['tokens']} train and "
                      f"{meta['val']['tokens']} validation tokens for a block of {cfg.block_size}")


def build_model(cfg: TrainConfig, tok: Tokenizer, init_from: Path | None, seed: int) -> Llama:
    if init_from is not None:
        model = checkpoint.load_model(init_from)
        if model.config.max_position_embeddings < cfg.block_size:
            raise LMError(f"--init-from model has a context of {model.config.max_position_embeddings}"
                          f" tokens, shorter than block_size {cfg.block_size}")
        return model.train()
    vocab = -(-tok.vocab_size // 64) * 64  # pad to a multiple of 64 for faster matmuls
    fields = cfg.model_fields() | {"vocab_size": vocab}
    mcfg = ModelConfig(**fields, max_position_embeddings=cfg.block_size,
                       bos_token_id=tok.bos_id, eos_token_id=tok.eos_id, pad_token_id=tok.pad_id)
    torch.manual_seed(seed)
    model = Llama(mcfg)
    model.init_weights()
    return model


class Trainer:
    def __init__(self, cfg: TrainConfig, sources: list[str], out: Path, model: Llama,
                 device: torch.device, dtype: torch.dtype, seed: int, d: Dist, compile: bool,
                 peak_tflops: float | None):
        self.cfg, self.sources, self.out, self.model = cfg, sources, out, model.to(device)
        self.tok_path = tokenizer_file(out)
        self.device, self.dtype, self.seed, self.d = device, dtype, seed, d
        self.train_data = TokenFile.open(out / "data", "train")
        self.val_data = TokenFile.open(out / "data", "val")
        self.opt = make_optimizer(self.model, cfg)
        self.net = torch.compile(self.model) if compile else self.model
        if d.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP
            self.net = DDP(self.net, device_ids=[device.index] if device.type == "cuda" else None)
        self.peak_flops = (peak_tflops or 0) * 1e12
        self.step, self.elapsed, self.stop_requested, self.saved_step = 0, 0.0, False, -1
        self.log_path, self.png_path = out / "log.jsonl", out / "loss.png"

    def flops_per_token(self) -> float:
        c = self.model.config
        return 6 * self.model.num_params() + 12 * c.num_hidden_layers * c.hidden_size * self.cfg.block_size

    @torch.no_grad()
    def validate(self) -> tuple[float, float]:
        self.model.eval()
        starts = self.val_data.eval_windows(self.cfg.block_size, self.cfg.eval_windows)
        total, n = 0.0, 0
        for i in range(0, len(starts), self.cfg.batch_size):
            x, y = self.val_data.windows(starts[i:i + self.cfg.batch_size], self.cfg.block_size)
            with autocast(self.device, self.dtype):
                _, loss = self.model(x.to(self.device), y.to(self.device))
            total += loss.item() * y.numel()
            n += y.numel()
        self.model.train()
        loss = total / n
        return loss, loss / math.log(2) * self.val_data.tokens_per_byte

    def train_step(self) -> float:
        cfg, d = self.cfg, self.d
        lr = lr_at(cfg, self.step, self.elapsed)
        for group in self.opt.param_groups:
            group["lr"] = lr
        total = torch.zeros((), device=self.device)
        for micro in range(cfg.grad_accum):
            x, y = self.train_data.batch(self.seed, self.step, micro, cfg.batch_size,
                                         cfg.block_size, d.rank, d.world)
            last = micro == cfg.grad_accum - 1
            if d.world > 1:
                self.net.require_backward_grad_sync = last
            with autocast(self.device, self.dtype):
                _, loss = self.net(x.to(self.device, non_blocking=True), y.to(self.device))
            (loss / cfg.grad_accum).backward()
            total += loss.detach() / cfg.grad_accum
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return d.mean(total.item())  # one host sync per step, not per micro-step

    def log(self, rec: dict):
        if self.d.main:
            with open(self.log_path, "a") as f:
                f.write(json.dumps(rec) + "\n")

    def save(self, val_loss: float | None = None):
        if not self.d.main or self.saved_step == self.step:
            return
        self.saved_step = self.step
        checkpoint.save_model(self.model, self.tok_path, self.out)
        save_state(self.out, self.model, self.opt, {
            "step": self.step, "elapsed_s": self.elapsed, "seed": self.seed,
            "config": self.cfg.as_dict(), "sources": self.sources, "val_loss": val_loss})
        plot_loss(self.log_path, self.png_path)

    def resume(self):
        state = load_state(self.out, self.model, self.opt)
        check_same_run(state, self.cfg.as_dict(), self.sources)
        if state["seed"] != self.seed:
            raise LMError(f"--resume with a different --seed: was {state['seed']}, now {self.seed}")
        self.step, self.elapsed, self.saved_step = state["step"], state["elapsed_s"], state["step"]

    def out_of_budget(self) -> bool:
        over_time = bool(self.cfg.max_minutes) and self.elapsed >= self.cfg.max_minutes * 60
        return self.step >= self.cfg.max_steps or over_time or self.stop_requested

    def run(self) -> dict:
        cfg, d = self.cfg, self.d
        tokens_per_step = cfg.batch_size * cfg.block_size * cfg.grad_accum
        # tqdm's own remaining-time guess ignores --max-minutes; the postfix ETA does not, and
        # the bar's total follows the step the time budget will end at.
        bar = tqdm(total=self.steps_expected(), initial=self.step, desc="train", unit="step",
                   disable=not d.main, dynamic_ncols=True, mininterval=1.0,
                   bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}, {rate_fmt}{postfix}]")
        val_loss = val_bpb = None
        while True:
            self.stop_requested = d.max(float(self.stop_requested)) > 0
            if self.out_of_budget():
                break
            t0 = time.perf_counter()
            loss = self.train_step()
            dt = time.perf_counter() - t0
            self.elapsed = d.max(self.elapsed + dt)
            self.step += 1
            tok_s = tokens_per_step / dt
            rec = {"step": self.step, "loss": round(loss, 5), "lr": lr_at(cfg, self.step - 1, self.elapsed),
                   "tokens_per_s": round(tok_s, 1), "elapsed_s": round(self.elapsed, 2)}
            if self.device.type == "cuda" and self.peak_flops:
                rec["mfu"] = round(self.flops_per_token() * tok_s / self.peak_flops, 4)
            bar.total = self.steps_expected()
            bar.set_postfix_str(self.postfix(loss, tok_s, val_bpb), refresh=False)
            bar.update(1)
            evaluate_now = self.step % cfg.eval_interval == 0 or self.out_of_budget()
            if evaluate_now:
                if d.main:
                    val_loss, val_bpb = self.validate()
                    rec |= {"val_loss": round(val_loss, 5), "val_bpb": round(val_bpb, 5)}
                d.barrier()
            self.log(rec)
            if self.step % cfg.checkpoint_interval == 0 or evaluate_now:
                self.save(val_loss)
            d.barrier()
        bar.close()
        if val_loss is None and d.main:
            val_loss, val_bpb = self.validate()
        self.save(val_loss)
        return {"step": self.step, "val_loss": val_loss, "val_bpb": val_bpb,
                "elapsed_s": self.elapsed, "stopped": self.stop_requested}

    def steps_expected(self) -> int:
        """The step training will stop at: max_steps, or sooner where the time budget ends
        first at the pace so far."""
        if not self.cfg.max_minutes or self.step == 0:
            return self.cfg.max_steps
        left = max(0.0, self.cfg.max_minutes * 60 - self.elapsed)
        return min(self.cfg.max_steps, self.step + math.ceil(left * self.step / self.elapsed))

    def postfix(self, loss: float, tok_s: float, val_bpb: float | None) -> str:
        eta = (self.steps_expected() - self.step) * self.elapsed / max(self.step, 1)
        if self.cfg.max_minutes:
            eta = min(eta, max(0.0, self.cfg.max_minutes * 60 - self.elapsed))
        bpb = f" val {val_bpb:.3f} bpb" if val_bpb is not None else ""
        return f"loss {loss:.3f}{bpb} {tok_s:,.0f} tok/s ETA {int(eta // 60)}:{int(eta % 60):02d}"


def train(cfg: TrainConfig, sources: list[str], out: Path, *, resume=False, init_from=None,
          device="auto", precision="auto", seed=1337, compile=False, limit_docs=None,
          peak_tflops=None) -> dict:
    out = Path(out)
    init_from = Path(init_from) if init_from else None
    if resume and not (out / STATE).exists():
        raise LMError(f"--resume: {out} has no {STATE}; start without --resume")
    d, dev = setup_dist(device)
    keep_freed_memory()
    if cfg.batch_size % d.world:
        raise LMError(f"batch_size {cfg.batch_size} does not divide over {d.world} processes")
    try:
        if d.main:
            out.mkdir(parents=True, exist_ok=True)
            if not resume:
                (out / "log.jsonl").unlink(missing_ok=True)
            prepare_run(cfg, sources, out, None if resume else init_from, limit_docs)
        d.barrier()
        if resume:
            model = checkpoint.load_model(out).train()
        else:
            model = build_model(cfg, load_tokenizer(out), init_from, seed)
        trainer = Trainer(cfg, sources, out, model, dev, pick_dtype(dev, precision), seed, d,
                          compile, peak_tflops)
        if resume:
            trainer.resume()
        previous = signal.getsignal(signal.SIGINT)

        def request_stop(signum, frame):
            if trainer.stop_requested:
                raise KeyboardInterrupt
            trainer.stop_requested = True
            if d.main:
                print("\nstopping at the end of this step (Ctrl-C again to abort)", flush=True)

        signal.signal(signal.SIGINT, request_stop)
        try:
            result = trainer.run()
        finally:
            signal.signal(signal.SIGINT, previous)
        # Rank 0 validates and saves last; tearing the group down while it still works
        # aborted the other ranks' gloo threads ("terminate called without an active exception").
        d.barrier()
        return result
    finally:
        if d.world > 1:
            dist.destroy_process_group()
