"""Int8 weight-only quantisation for CPU decoding (the gpt-fast recipe).

Decoding one token reads every weight once, so on a CPU its speed is set by memory
traffic, not arithmetic: int8 weights with one scale per output channel move a quarter
of fp32's bytes. Activations stay in fp32 between layers (norms, RoPE and attention are
unchanged) and meet the weights in bf16 inside `_weight_int8pack_mm`, which dequantises
on the fly. bench/engine.py checks the perplexity cost against fp32 (the bar is 1%).

That kernel works row by row, so its cost grows with the rows: from 8 rows on (a busy
decode batch, a prompt chunk) a bf16 GEMM over the same quantised weights, dequantised
once at load, wins. The bf16 copy is kept in oneDNN's blocked layout: a plain bf16
`F.linear` re-lays the weight out on every call, which made a 16-row decode step over
25 matrices 1.7x slower (4.2 vs 2.5 ms on one core). Serving memory is 3 bytes per
weight instead of 1, still below fp32's 4.
"""
from __future__ import annotations

import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

from .model import Llama


# Below this many rows the int8 kernel wins; from it on, the blocked bf16 GEMM does.
# A 25-matrix decode step of the 8M shape, int8 vs blocked bf16, on 2 AVX512-BF16 cores
# (the engine's default): 0.40 vs 0.78 ms at 1 row, 0.65 vs 0.88 at 4, 1.24 vs 1.33 at 8,
# 2.57 vs 1.39 at 16. On one core the tie comes earlier (1.63 vs 1.50 ms at 4 rows).
GEMM_ROWS = 8


@functools.cache
def _blocked_supported() -> bool:
    """Whether this build has oneDNN's blocked bf16 GEMM (asked once, not per layer)."""
    try:
        w = torch.ones(8, 8, dtype=torch.bfloat16)
        torch.ops.mkldnn._linear_pointwise(w, torch.ops.mkldnn._reorder_linear_weight(w, 16),
                                            None, "none", [], "")
        return True
    except (AttributeError, RuntimeError):
        return False


def _blocked(w: torch.Tensor) -> torch.Tensor | None:
    """w in oneDNN's GEMM layout, or None where this build cannot (then plain F.linear)."""
    return torch.ops.mkldnn._reorder_linear_weight(w, 16) if _blocked_supported() else None


class Int8Linear(nn.Module):
    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None):
        super().__init__()
        w = weight.detach().float()
        self.register_buffer("bias", None if bias is None else bias.detach().float())  # Qwen2 k biases are large: added in fp32
        scales = (w.abs().amax(dim=1) / 127).clamp(min=1e-12)
        self.register_buffer("weight", (w / scales[:, None]).round().clamp(-127, 127).to(torch.int8))
        self.register_buffer("scales", scales.to(torch.bfloat16))
        self.in_features, self.out_features = w.shape[1], w.shape[0]
        self._prepare_gemm()

    def _prepare_gemm(self) -> None:
        dense = self.weight.to(torch.bfloat16) * self.scales[:, None]
        # An opaque oneDNN tensor (not a buffer: state_dict, .to() and pickle cannot hold one).
        self.blocked = _blocked(dense) if dense.device.type == "cpu" else None
        self.dense = None if self.blocked is not None else dense

    def __getstate__(self):
        """Pickled (to reach the engine's worker) without the bf16 copy, rebuilt on arrival."""
        return {**self.__dict__, "blocked": None, "dense": None}

    def __setstate__(self, state):
        super().__setstate__(state)
        self._prepare_gemm()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features).to(torch.bfloat16)
        if flat.shape[0] < GEMM_ROWS:
            y = torch._weight_int8pack_mm(flat, self.weight, self.scales)
        elif self.blocked is not None:
            y = torch.ops.mkldnn._linear_pointwise(flat, self.blocked, None, "none", [], "")
        else:
            y = F.linear(flat, self.dense)
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*x.shape[:-1], self.out_features)


def supported() -> bool:
    """Whether this torch build has the CPU int8 weight-only kernel."""
    try:
        w = torch.ones(8, 8, dtype=torch.int8)
        torch._weight_int8pack_mm(torch.ones(1, 8, dtype=torch.bfloat16), w,
                                  torch.ones(8, dtype=torch.bfloat16))
        return True
    except (AttributeError, RuntimeError):
        return False


def quantize_int8(model: Llama) -> Llama:
    """Quantise every Linear (lm_head included) in place; the embedding stays fp32.

    q/k/v and gate/up become one matmul each: the same input, read and cast once.
    For inference only: the result cannot be trained or saved as a checkpoint."""
    for layer in model.model.layers:
        a, m = layer.self_attn, layer.mlp
        qkv = (a.q_proj, a.k_proj, a.v_proj)
        bias = torch.cat([p.bias for p in qkv]) if a.q_proj.bias is not None else None
        a.qkv_proj = Int8Linear(torch.cat([p.weight for p in qkv]), bias)
        m.gate_up_proj = Int8Linear(torch.cat([m.gate_proj.weight, m.up_proj.weight]))
        del a.q_proj, a.k_proj, a.v_proj, m.gate_proj, m.up_proj
        a.o_proj, m.down_proj = Int8Linear(a.o_proj.weight), Int8Linear(m.down_proj.weight)
    model.lm_head = Int8Linear(model.lm_head.weight)
    return model.eval()
