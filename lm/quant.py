"""Int8 weight-only quantisation for CPU decoding (the gpt-fast recipe).

Decoding one token reads every weight once, so on a CPU its speed is set by memory
traffic, not arithmetic: int8 weights with one scale per output channel move a quarter
of fp32's bytes. Activations stay in fp32 between layers (norms, RoPE and attention are
unchanged) and meet the weights in bf16 inside `_weight_int8pack_mm`, which dequantises
on the fly. bench/engine.py checks the perplexity cost against fp32 (the bar is 1%).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .model import Llama


# Up to this many rows the int8 kernel wins; beyond it, dequantising once and running one
# bf16 GEMM is faster (measured on AVX512-BF16: 2-3x at 64-256 rows).
GEMV_ROWS = 32


class Int8Linear(nn.Module):
    def __init__(self, weight: torch.Tensor):
        super().__init__()
        w = weight.detach().float()
        scales = (w.abs().amax(dim=1) / 127).clamp(min=1e-12)
        self.register_buffer("weight", (w / scales[:, None]).round().clamp(-127, 127).to(torch.int8))
        self.register_buffer("scales", scales.to(torch.bfloat16))
        self.in_features, self.out_features = w.shape[1], w.shape[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features).to(torch.bfloat16)
        if flat.shape[0] <= GEMV_ROWS:
            y = torch._weight_int8pack_mm(flat, self.weight, self.scales)
        else:  # a prompt chunk or a big batch: a bf16 GEMM beats the row-by-row kernel
            y = F.linear(flat, self.weight.to(torch.bfloat16) * self.scales[:, None])
        return y.reshape(*x.shape[:-1], self.out_features).to(x.dtype)


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
        a.qkv_proj = Int8Linear(torch.cat([a.q_proj.weight, a.k_proj.weight, a.v_proj.weight]))
        m.gate_up_proj = Int8Linear(torch.cat([m.gate_proj.weight, m.up_proj.weight]))
        del a.q_proj, a.k_proj, a.v_proj, m.gate_proj, m.up_proj
        a.o_proj, m.down_proj = Int8Linear(a.o_proj.weight), Int8Linear(m.down_proj.weight)
    model.lm_head = Int8Linear(model.lm_head.weight)
    return model.eval()
