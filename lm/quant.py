"""Low-bit weights for CPU decoding.

Decoding one token reads every weight once, so on a CPU its speed is set by memory
traffic, not arithmetic. Two formats, chosen by whether a C compiler is there:

- Packed (lm/kernels/qmatmul.c): blocks of 32 weights along the input, each
  `d * u + m` with d and m in fp16 and u unsigned, 4 bits where the weights already lie
  on a 16-level grid per block (a model imported from a Q4_0/Q4_1/Q4_K GGUF: re-packing
  it loses nothing and reads about a sixth of fp32's bytes), else 8 bits (symmetric,
  m = -128 d). Activations meet them as int8 blocks, as llama.cpp's do.
  `PackedModel` then runs the whole forward pass in one native call (lm/kernels/forward.c)
  whenever a bf16 KV cache is given: SmolLM2's 30 small layers cost more in per-op
  dispatch than in weight traffic otherwise.
- Int8Linear, the fallback: one int8 scale per output channel, through torch's
  `_weight_int8pack_mm` below 8 rows and a blocked bf16 GEMM over the same weights from
  there (that kernel works row by row). Activations stay fp32 between layers.

bench/engine.py checks the perplexity cost against fp32 (the bar is 1%).
"""
from __future__ import annotations

import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import native
from .model import Llama

# Below this many rows the int8 kernel wins; from it on, the blocked bf16 GEMM does.
# A 25-matrix decode step of the 8M shape, int8 vs blocked bf16, on 2 AVX512-BF16 cores:
# 0.40 vs 0.78 ms at 1 row, 0.65 vs 0.88 at 4, 1.24 vs 1.33 at 8, 2.57 vs 1.39 at 16.
GEMM_ROWS = 8
BLOCK = 32
# A block counts as already 4-bit when its 16-level fit is off by at most this fraction of
# its largest weight: the bf16 rounding of dequantised GGUF values is 2^-9 of each value,
# while 4-bit rounding of ordinary weights is off by about 1/15 of the block's range.
GRID_TOLERANCE = 2 ** -7


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


def pack(w: torch.Tensor, bits: int | None = None):
    """w [n, k] as (u, d, m, bits) in kernels.h's layout (k padded to a multiple of 32, n to
    one of 16). bits None: 4 where every block is already on a 4-bit grid, else 8. d and m
    are refit by least squares to the rounded u, which recovers a GGUF's own scales from
    its bf16-rounded dequantised values."""
    n, k = w.shape
    kp, np_ = -(-k // BLOCK) * BLOCK, -(-n // 16) * 16
    blocks = F.pad(w.detach().float(), (0, kp - k, 0, np_ - n)).view(np_, kp // BLOCK, BLOCK)
    lo, hi = blocks.amin(-1, keepdim=True), blocks.amax(-1, keepdim=True)
    if bits in (None, 4):
        step = (hi - lo) / 15
        u = torch.where(step > 0, (blocks - lo) / step.clamp(min=1e-30), 0).round().clamp(0, 15)
        uc = u - u.mean(-1, keepdim=True)
        var = (uc * uc).sum(-1, keepdim=True)
        d = torch.where(var > 0, (uc * blocks).sum(-1, keepdim=True) / var.clamp(min=1e-30), 0)
        m = blocks.mean(-1, keepdim=True) - d * u.mean(-1, keepdim=True)
        d, m = d.half(), m.half()
        err = (d.float() * u + m.float() - blocks).abs().amax(-1)
        if bits == 4 or bool((err <= GRID_TOLERANCE * blocks.abs().amax(-1)).all()):
            return _layout(u, 4), _stripes(d), _stripes(m), 4
    amax = torch.maximum(-lo, hi)
    q = torch.where(amax > 0, blocks * 127 / amax.clamp(min=1e-30), 0).round().clamp(-127, 127)
    qq = (q * q).sum(-1, keepdim=True)
    d = torch.where(qq > 0, (q * blocks).sum(-1, keepdim=True) / qq.clamp(min=1), 0).half()
    return _layout(q + 128, 8), _stripes(d), _stripes((d.float() * -128).half()), 8


def _stripes(x: torch.Tensor) -> torch.Tensor:
    """Per-block values [n, blocks, 1] as [n / 16, blocks, 16]: a stripe's 16 rows side by side."""
    return x.view(-1, 16, x.shape[1]).transpose(1, 2).contiguous()


def _layout(u: torch.Tensor, bits: int) -> torch.Tensor:
    """u [n, blocks, 32] (values < 2^bits) as the kernel's bytes, held as int8."""
    S, nb = u.shape[0] // 16, u.shape[1]
    u = u.to(torch.uint8).view(S, 16, nb, -1, 4)
    if bits == 4:  # chunk c of a block: k 8c..8c+3 in the low nibbles, 8c+4..8c+7 in the high
        u = u.view(S, 16, nb, 4, 2, 4)
        u = u[..., 0, :] | (u[..., 1, :] << 4)
    return u.permute(0, 2, 3, 1, 4).contiguous().view(-1).view(torch.int8)


def unpack(u: torch.Tensor, d: torch.Tensor, m: torch.Tensor, bits: int, n: int, k: int) -> torch.Tensor:
    """The fp32 weights [n, k] a packed matrix stands for (the reference the tests use)."""
    S, nb = d.shape[:2]
    b = u.view(torch.uint8).view(S, nb, -1, 16, 4).permute(0, 3, 1, 2, 4)
    if bits == 4:
        b = torch.stack([b & 15, b >> 4], dim=-2)
    per_block = (lambda x: x.float().transpose(1, 2)[..., None])
    w = b.reshape(S, 16, nb, BLOCK).float() * per_block(d) + per_block(m)
    return w.reshape(S * 16, nb * BLOCK)[:n, :k]


class PackedLinear(nn.Module):
    """A Linear over packed weights. `weight` holds the packed bytes (int8 like Int8Linear's,
    so code that asks a quantised model's weight dtype gets the same answer)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None = None, bits: int | None = None):
        super().__init__()
        u, d, m, self.bits = pack(weight, bits)
        self.register_buffer("weight", u)
        self.register_buffer("d", d)
        self.register_buffer("m", m)
        self.register_buffer("bias", None if bias is None else bias.detach().float())
        self.out_features, self.in_features = weight.shape

    def qmat(self) -> native.QMat:
        """The kernel's view of this matrix: valid while these buffers stay where they are."""
        bias = self.bias.data_ptr() if self.bias is not None else None
        return native.QMat(self.weight.data_ptr(), self.d.data_ptr(), self.m.data_ptr(), bias,
                           self.out_features, self.in_features, self.d.shape[1] * BLOCK, self.bits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = native.qlinear(self.qmat(), x.reshape(-1, self.in_features))
        return y.reshape(*x.shape[:-1], self.out_features)


class PackedModel:
    """The whole-forward kernel for a model whose linears are all PackedLinear. The pointer
    table is built on first use and again whenever the weights have moved (the engine
    ships a model to its worker through shared memory); it is never pickled."""

    def __init__(self, model: Llama):
        self.model, self._table, self._at = model, None, None

    def __getstate__(self):
        return {"model": self.model, "_table": None, "_at": None}

    def usable(self, cache) -> bool:
        return cache[0].k.dtype == torch.bfloat16 and cache[0].k.device.type == "cpu"

    def __call__(self, x: torch.Tensor, positions: torch.Tensor, cache, first_row: int,
                 last_only: bool) -> torch.Tensor:
        B, T, H = x.shape
        logits = native.llama_forward(self._qmodel(), x.reshape(B * T, H).float().contiguous(), T,
                                      first_row, positions, cache, last_only)
        return logits.view(B, 1 if last_only else T, -1)

    def _qmodel(self) -> native.QModel:
        md = self.model
        at = (md.lm_head.weight.data_ptr(), md.model.norm.weight.data_ptr(), md.rope_cos.data_ptr(),
              md.model.layers[0].self_attn.qkv_proj.weight.data_ptr())
        if self._table is None or self._at != at:
            cfg, layers = md.config, md.model.layers
            table = (native.QLayer * len(layers))(*[native.QLayer(
                l.input_layernorm.weight.data_ptr(), l.post_attention_layernorm.weight.data_ptr(),
                l.self_attn.qkv_proj.qmat(), l.self_attn.o_proj.qmat(), l.mlp.gate_up_proj.qmat(),
                l.mlp.down_proj.qmat()) for l in layers])
            self._table = (native.QModel(
                len(layers), cfg.hidden_size, cfg.intermediate_size, cfg.num_attention_heads,
                cfg.num_key_value_heads, cfg.head_dim, md.lm_head.out_features, cfg.rms_norm_eps,
                table, md.model.norm.weight.data_ptr(), md.rope_cos.data_ptr(), md.rope_sin.data_ptr(),
                md.lm_head.qmat()), table)
            self._at = at
        return self._table[0]


def supported() -> bool:
    """Whether this torch build has the CPU int8 weight-only kernel."""
    try:
        w = torch.ones(8, 8, dtype=torch.int8)
        torch._weight_int8pack_mm(torch.ones(1, 8, dtype=torch.bfloat16), w,
                                  torch.ones(8, dtype=torch.bfloat16))
        return True
    except (AttributeError, RuntimeError):
        return False


def quantize_int8(model: Llama, packed: bool | None = None) -> Llama:
    """Quantise every Linear (lm_head included) in place; the embedding stays fp32.

    packed: the native formats (default: when the kernels build), else Int8Linear.
    q/k/v and gate/up become one matmul each: the same input, read and cast once.
    For inference only: the result cannot be trained or saved as a checkpoint."""
    packed = native.available() if packed is None else packed
    Linear = PackedLinear if packed else Int8Linear
    for layer in model.model.layers:
        a, m = layer.self_attn, layer.mlp
        qkv = (a.q_proj, a.k_proj, a.v_proj)
        bias = torch.cat([p.bias for p in qkv]) if a.q_proj.bias is not None else None
        a.qkv_proj = Linear(torch.cat([p.weight for p in qkv]), bias)
        m.gate_up_proj = Linear(torch.cat([m.gate_proj.weight, m.up_proj.weight]))
        del a.q_proj, a.k_proj, a.v_proj, m.gate_proj, m.up_proj
        a.o_proj, m.down_proj = Linear(a.o_proj.weight), Linear(m.down_proj.weight)
    model.lm_head = Linear(model.lm_head.weight)
    model.fused = PackedModel(model) if packed else None
    return model.eval()
