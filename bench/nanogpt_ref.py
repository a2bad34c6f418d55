"""The peer for bench/train.py: nanoGPT's model and training step as it ships, for CPU.

Written for this benchmark from nanoGPT's published design (karpathy/nanoGPT model.py and
train.py), not copied: GPT-2 blocks (pre-LayerNorm without bias, GELU MLP 4x, learned
positions, tied embeddings, SDPA causal attention), AdamW with decay on matrices only,
fused only on CUDA, and fp32 on CPU (its train.py uses autocast only off-CPU).
It reads the same token files and validation windows as our trainer, so the two
compare on identical data.
"""
from __future__ import annotations

import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from lm.data import TokenFile


class Block(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.ln_1 = nn.LayerNorm(d, bias=False)
        self.c_attn = nn.Linear(d, 3 * d, bias=False)
        self.c_proj = nn.Linear(d, d, bias=False)
        self.ln_2 = nn.LayerNorm(d, bias=False)
        self.c_fc = nn.Linear(d, 4 * d, bias=False)
        self.mlp_proj = nn.Linear(4 * d, d, bias=False)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.c_proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x))))


class GPT(nn.Module):
    def __init__(self, vocab: int, block: int, layers: int, d: int, heads: int):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(block, d)
        self.h = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d, bias=False)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.lm_head.weight = self.wte.weight
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * layers) if name.endswith(("c_proj.weight", "mlp_proj.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx, targets):
        pos = torch.arange(idx.shape[1], device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)


def run(data_dir, minutes: float, vocab: int, block: int, batch: int, layers: int, d: int,
        heads: int, seed: int = 1337, eval_windows: int = 64, lr: float = 1e-3,
        min_lr: float = 1e-4, warmup: int = 50) -> dict:
    torch.manual_seed(seed)
    train, val = TokenFile.open(data_dir, "train"), TokenFile.open(data_dir, "val")
    model = GPT(vocab, block, layers, d, heads)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": other, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.99))
    budget, elapsed, step = minutes * 60, 0.0, 0
    while elapsed < budget:
        t0 = time.perf_counter()
        frac = min(elapsed / budget, 1.0)
        lr_now = lr * (step + 1) / warmup if step < warmup else \
            min_lr + 0.5 * (1 + math.cos(math.pi * frac)) * (lr - min_lr)
        for g in opt.param_groups:
            g["lr"] = lr_now
        x, y = train.batch(seed, step, 0, batch, block)
        loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        elapsed += time.perf_counter() - t0
        step += 1
    model.eval()
    starts = val.eval_windows(block, eval_windows)
    total = n = 0
    with torch.no_grad():
        for i in range(0, len(starts), batch):
            x, y = val.windows(starts[i:i + batch], block)
            total += model(x, y).item() * y.numel()
            n += y.numel()
    val_loss = total / n
    return {"steps": step, "elapsed_s": elapsed, "tokens_per_s": step * batch * block / elapsed,
            "val_loss": val_loss, "val_bpb": val_loss / math.log(2) * val.tokens_per_byte,
            "params": sum(p.numel() for p in model.parameters())}
