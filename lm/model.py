"""A decoder-only Llama, written so its parameter names *are* the Hugging Face names.

Keeping `model.layers.N.self_attn.q_proj.weight` and friends as the real module paths
means a checkpoint is just `state_dict()` with no renaming table to get wrong, and
HF `LlamaForCausalLM` loads what we save (and we load what it saves).

RoPE uses the rotate-half layout that HF weights assume (the first half of each head
pairs with the second half). Mixing this up with interleaved RoPE gives fluent nonsense.

The modules below are the reference path (training, fp32 and bf16 serving, and any
machine without a C compiler). A model packed by lm/quant.py sets `fused`, and then a
forward over a bf16 KV cache runs every layer in one native call instead
(lm/kernels/forward.c), with the same positions, masking and cache semantics.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from . import native


# The model types this network implements, each with its transformers class.
ARCHITECTURES = {"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
                 "qwen2": "Qwen2ForCausalLM"}
# transformers' defaults where they differ from ours, for a config.json that omits the key.
HF_DEFAULTS = {"tie_word_embeddings": False, "rms_norm_eps": 1e-6,
               "max_position_embeddings": 2048, "pad_token_id": None}


@dataclass
class ModelConfig:
    """Field names match `transformers.LlamaConfig` one to one, so config.json round-trips."""

    vocab_size: int = 8192
    hidden_size: int = 288
    intermediate_size: int = 768
    num_hidden_layers: int = 6
    num_attention_heads: int = 6
    num_key_value_heads: int = 6
    head_dim: int | None = None
    max_position_embeddings: int = 256
    rms_norm_eps: float = 1e-5
    rope_theta: float = 10000.0
    rope_scaling: dict | None = None
    tie_word_embeddings: bool = True
    bos_token_id: int | None = 1
    eos_token_id: int | list[int] = 2
    pad_token_id: int | None = 3
    model_type: str = "llama"  # llama and mistral are one network; qwen2 adds q/k/v biases

    def __post_init__(self):
        if self.model_type not in ARCHITECTURES:
            raise ValueError(f"unsupported model_type {self.model_type!r} "
                             f"(supported: {', '.join(ARCHITECTURES)})")
        if self.head_dim is None:
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")
        kind = rope_type(self.rope_scaling)
        if kind not in ROPE_SCALING_KEYS:
            raise ValueError(f"unsupported rope_scaling type {kind!r} (supported: linear, llama3)")
        missing = [k for k in ROPE_SCALING_KEYS[kind] if k not in self.rope_scaling]
        if missing:
            raise ValueError(f"rope_scaling type {kind!r} needs {', '.join(missing)}")

    def to_hf(self) -> dict:
        biases = {} if self.qkv_bias else {"attention_bias": False, "mlp_bias": False}
        return {
            "architectures": [ARCHITECTURES[self.model_type]],
            **asdict(self),
            "hidden_act": "silu",
            **biases,
            "initializer_range": 0.02,
            "torch_dtype": "float32",
        }

    @property
    def qkv_bias(self) -> bool:
        return self.model_type == "qwen2"

    @classmethod
    def from_hf(cls, d: dict) -> "ModelConfig":
        """Read either RoPE form: top-level `rope_theta`/`rope_scaling`, or the newer
        `rope_parameters` (which transformers 5 writes, scaling keys included)."""
        known = {f.name for f in fields(cls)}
        kw = HF_DEFAULTS | {k: v for k, v in d.items() if k in known}
        if kw.get("num_key_value_heads") is None:  # configs from before grouped-query attention
            kw["num_key_value_heads"] = kw.get("num_attention_heads", cls.num_attention_heads)
        params = d.get("rope_parameters")
        if isinstance(params, dict):
            if "rope_theta" not in d:
                kw["rope_theta"] = params.get("rope_theta", cls.rope_theta)
            if d.get("rope_scaling") is None and rope_type(params) not in (None, "default"):
                kw["rope_scaling"] = {k: v for k, v in params.items() if k != "rope_theta"}
        return cls(**kw)

    @property
    def eos_ids(self) -> list[int]:
        return self.eos_token_id if isinstance(self.eos_token_id, list) else [self.eos_token_id]


# The RoPE scaling types we implement, with the keys each one needs.
ROPE_SCALING_KEYS = {
    None: (), "default": (), "linear": ("factor",),
    "llama3": ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"),
}


def rope_type(scaling: dict | None) -> str | None:
    """Older configs say `type`, newer ones `rope_type`."""
    scaling = scaling or {}
    return scaling.get("rope_type", scaling.get("type"))


def rope_inv_freq(cfg: ModelConfig) -> torch.Tensor:
    """Inverse frequencies as transformers' rope init functions compute them (`ModelConfig`
    has already refused any scaling type not handled here)."""
    d = cfg.head_dim
    inv = 1.0 / (cfg.rope_theta ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    scaling = cfg.rope_scaling or {}
    kind = rope_type(scaling)
    if kind in (None, "default"):
        return inv
    if kind == "linear":
        return inv / float(scaling["factor"])
    factor = float(scaling["factor"])  # llama3
    low, high = float(scaling["low_freq_factor"]), float(scaling["high_freq_factor"])
    old_ctx = float(scaling["original_max_position_embeddings"])
    wavelen = 2 * math.pi / inv
    smooth = (old_ctx / wavelen - low) / (high - low)
    scaled = torch.where(wavelen > old_ctx / low, inv / factor, inv)
    medium = (wavelen <= old_ctx / low) & (wavelen >= old_ctx / high)
    return torch.where(medium, (1 - smooth) * inv / factor + smooth * inv, scaled)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        # Normalise in fp32 like HF does, so bf16 runs and parity tests agree.
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class KVCache(nn.Module):
    """Per-layer cache [rows, kv_heads, length, head_dim] for a continuous-batching engine.

    Rows are independent: each writes at its own positions (slots of different lengths in
    one batch), and attention masks keys past a row's own position. The length follows
    the longest row in steps of GROW, up to max_len, and attention reads the whole
    allocation: slicing the length instead would leave every row's keys strided, and the
    bf16 batched matmul copies strided operands first (3.5x slower at 16 rows here).
    """

    GROW = 128

    def __init__(self, batch: int, kv_heads: int, max_len: int, head_dim: int, dtype, device):
        super().__init__()
        self.max_len = max_len
        shape = (batch, kv_heads, min(self.GROW, max_len), head_dim)
        self.register_buffer("k", torch.zeros(shape, dtype=dtype, device=device), persistent=False)
        self.register_buffer("v", torch.zeros(shape, dtype=dtype, device=device), persistent=False)

    @property
    def length(self) -> int:
        return self.k.shape[2]

    def fit(self, end: int, shrink: bool = False) -> int:
        """Make room for positions [0, end), giving back room above it when `shrink`;
        return the length attention will read."""
        want = min(self.max_len, -(-end // self.GROW) * self.GROW)
        if want > self.length or (shrink and want < self.length):
            keep = min(want, self.length)
            for name in ("k", "v"):
                old = getattr(self, name)
                new = old.new_zeros(*old.shape[:2], want, old.shape[3])
                new[:, :, :keep] = old[:, :, :keep]
                setattr(self, name, new)
        return self.length

    def update(self, positions: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
               first_row: int = 0):
        """Write k/v [B, kv, T, hd] at positions [B, T] of cache rows first_row..first_row+B-1
        and return those rows' keys/values. Rows are a contiguous range, so the result is
        a contiguous view, never a copy."""
        rows = slice(first_row, first_row + k.shape[0])
        index = torch.arange(k.shape[0], device=k.device)[:, None]
        self.k[rows][index, :, positions] = k.transpose(1, 2).to(self.k.dtype)
        self.v[rows][index, :, positions] = v.transpose(1, 2).to(self.v.dtype)
        return self.k[rows], self.v[rows]

    def move_row(self, src: int, dst: int, length: int) -> None:
        """Copy one row's first `length` positions to another row (engine slot compaction)."""
        self.k[dst, :, :length] = self.k[src, :, :length]
        self.v[dst, :, :length] = self.v[src, :, :length]


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads, self.n_kv, self.hd = cfg.num_attention_heads, cfg.num_key_value_heads, cfg.head_dim
        bias = cfg.qkv_bias
        self.q_proj = nn.Linear(cfg.hidden_size, self.n_heads * self.hd, bias=bias)
        self.k_proj = nn.Linear(cfg.hidden_size, self.n_kv * self.hd, bias=bias)
        self.v_proj = nn.Linear(cfg.hidden_size, self.n_kv * self.hd, bias=bias)
        self.o_proj = nn.Linear(self.n_heads * self.hd, cfg.hidden_size, bias=False)
        self.qkv_proj: nn.Module | None = None  # inference-time fusion (lm/quant.py)

    def forward(self, x, ctx: "StepContext", cache: KVCache | None):
        B, T, _ = x.shape
        if self.qkv_proj is not None:
            q, k, v = self.qkv_proj(x).split([self.n_heads * self.hd, self.n_kv * self.hd,
                                              self.n_kv * self.hd], dim=-1)
        else:
            q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        q = q.view(B, T, self.n_heads, self.hd).transpose(1, 2)
        k = k.view(B, T, self.n_kv, self.hd).transpose(1, 2)
        v = v.view(B, T, self.n_kv, self.hd).transpose(1, 2)
        cos, sin = ctx.rope(q.dtype)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            k, v = cache.update(ctx.positions, k, v, ctx.first_row)
        if T == 1 and cache is not None:
            y = self.decode_attention(q, k, v, ctx)
        else:
            k, v = k.to(q.dtype), v.to(q.dtype)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=ctx.mask, is_causal=ctx.causal,
                                               enable_gqa=self.n_kv != self.n_heads)
        return self.o_proj(y.transpose(1, 2).reshape(B, T, -1))

    def decode_attention(self, q, k, v, ctx: "StepContext"):
        """One query per row, in the cache's dtype (a bf16 cache halves the bytes a decode
        step reads over long contexts), softmax in fp32. A bf16 cache on the CPU goes to
        lm/native.py's kernel, which reads each row's own keys only; otherwise two batched
        matmuls (the CPU flash kernel is tuned for long query blocks and was ~10x slower).
        Query heads are grouped by their KV head, so GQA never copies K/V."""
        B, _, _, hd = q.shape
        dtype = q.dtype
        q = q.view(B, self.n_kv, self.n_heads // self.n_kv, hd).to(k.dtype)
        if k.dtype == torch.bfloat16 and k.device.type == "cpu" and native.available():
            y = native.decode_attention(q, k, v, ctx.positions, hd ** -0.5)
        else:
            scores = (q @ k.transpose(-1, -2)).float() * hd ** -0.5  # [B, kv, rep, S]
            scores = scores.masked_fill(~ctx.mask, float("-inf"))
            y = torch.softmax(scores, dim=-1).to(v.dtype) @ v  # [B, kv, rep, hd]
        return y.view(B, self.n_heads, 1, hd).to(dtype)


class StepContext:
    """What every layer needs about the current positions, computed once per forward."""

    def __init__(self, cos, sin, positions, span: int | None, first_row: int):
        """span: how many cache positions attention reads (None: no cache, plain causal)."""
        self.positions, self.first_row = positions, first_row
        self._cos, self._sin, self._rope = cos.unsqueeze(1), sin.unsqueeze(1), {}
        if span is None:
            self.mask, self.causal = None, True
        else:
            key_pos = torch.arange(span, device=positions.device)
            self.mask, self.causal = (key_pos[None, None, :] <= positions[:, :, None]).unsqueeze(1), False

    def rope(self, dtype):
        if dtype not in self._rope:
            self._rope[dtype] = (self._cos.to(dtype), self._sin.to(dtype))
        return self._rope[dtype]


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)
        self.gate_up_proj: nn.Module | None = None  # inference-time fusion (lm/quant.py)

    def forward(self, x):
        if self.gate_up_proj is not None:
            gate, up = self.gate_up_proj(x).chunk(2, dim=-1)
        else:
            gate, up = self.gate_proj(x), self.up_proj(x)
        return self.down_proj(F.silu(gate) * up)


class DecoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, ctx: StepContext, cache):
        x = x + self.self_attn(self.input_layernorm(x), ctx, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class Body(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.num_hidden_layers))
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class Llama(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.config = cfg
        self.model = Body(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight
        self.fused = None  # a whole-forward kernel over a bf16 cache (lm/quant.PackedModel)
        self.init_rope()

    def init_rope(self, device=None):
        """(Re)build the cos/sin tables; needed again after building on the meta device."""
        inv = rope_inv_freq(self.config).to(device)
        t = torch.arange(self.config.max_position_embeddings, dtype=torch.float32, device=device)
        freqs = torch.outer(t, inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("rope_cos", emb.cos(), persistent=False)
        self.register_buffer("rope_sin", emb.sin(), persistent=False)

    def init_weights(self):
        """nanoGPT/GPT-2 init: N(0, 0.02), residual projections scaled by 1/sqrt(2*layers)."""
        std = 0.02
        for name, p in self.named_parameters():
            if name.endswith("norm.weight"):
                nn.init.ones_(p)
            elif name.endswith(("o_proj.weight", "down_proj.weight")):
                nn.init.normal_(p, 0.0, std / math.sqrt(2 * self.config.num_hidden_layers))
            else:
                nn.init.normal_(p, 0.0, std)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def new_cache(self, batch: int, max_len: int | None = None, dtype=None) -> list[KVCache]:
        """A KV cache (one per layer) owned by the caller, so several users can share a model."""
        cfg = self.config
        max_len = max_len or cfg.max_position_embeddings
        weight = self.model.embed_tokens.weight  # the activation dtype (stays float when quantised)
        dtype, dev = dtype or weight.dtype, weight.device
        return [KVCache(batch, cfg.num_key_value_heads, max_len, cfg.head_dim, dtype, dev)
                for _ in range(cfg.num_hidden_layers)]

    def forward(self, idx, targets=None, positions=None, cache: list[KVCache] | None = None,
                last_only=False, first_row: int = 0):
        """idx [B, T]. With a cache, `positions` [B, T] says where each token sits; keys
        beyond a row's own positions are masked, so rows may have different lengths.
        Batch row b uses cache row first_row + b. last_only: logits for each row's last
        position only (ignored with targets)."""
        B, T = idx.shape
        if positions is None:  # the training case: no host sync to learn the last position
            positions, last = torch.arange(T, device=idx.device).expand(B, T), T - 1
        else:
            last = int(positions.max())  # one sync per forward, shared by every layer
        if last >= self.rope_cos.shape[0]:
            raise ValueError(f"position {last} is beyond the context of "
                             f"{self.rope_cos.shape[0]} tokens")
        span = None
        if cache is not None:  # every layer's cache has one length: grow them only when needed
            span = cache[0].length if last < cache[0].length else max(c.fit(last + 1) for c in cache)
        x = self.model.embed_tokens(idx)
        last_only = last_only and targets is None
        if cache is not None and self.fused is not None and self.fused.usable(cache):
            logits = self.fused(x, positions, cache, first_row, last_only)
        else:
            ctx = StepContext(self.rope_cos[positions], self.rope_sin[positions], positions, span, first_row)
            for i, layer in enumerate(self.model.layers):
                x = layer(x, ctx, cache[i] if cache is not None else None)
            x = self.model.norm(x)
            logits = self.lm_head(x[:, -1:] if last_only else x)
        if targets is None:
            return logits
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1),
                               ignore_index=-1)
        return logits, loss
