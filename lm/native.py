"""Hand-written CPU kernels (lm/kernels/*.c), compiled on first use by the machine's C compiler.

- qmatmul.c: matmuls over lm/quant.py's packed 4/8-bit weights with int8 activations
  (AVX512-VNNI where the CPU has it, plain C elsewhere);
- forward.c: a packed model's whole forward pass in one call (SmolLM2's 30 small layers
  spent longer in per-op dispatch than in reading their weights), and one packed matmul;
- decode_attention.c: one query per row against a bf16 KV cache, reading each row's own
  keys only (not the longest row's), once per KV head; on 2 cores it ran a 16-row,
  6-layer step 1.9-2x faster than two bf16 `bmm`s.

The shared library is built with `-O3 -march=native` into a cache folder keyed by the
sources, the compiler, its flags and the CPU's feature flags, atomically, so concurrent
workers and other machines sharing a home folder never load a wrong build. Without a C
compiler (or when a build fails) `available()` is False and the model uses torch ops
(lm/quant.py's Int8Linear, matmul attention); tests/lm/test_native.py and
tests/lm/test_quant_native.py check each kernel against those.
"""
from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

log = logging.getLogger(__name__)
KERNELS = Path(__file__).with_name("kernels")
SOURCES = sorted(KERNELS.glob("*.c"))


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "shopbot-lm"


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line
    except OSError:
        pass
    return platform.processor()


# -ffast-math lets gcc vectorise the dot products and call libmvec's vector expf. It is
# given when compiling only: linked with it, gcc adds crtfastmath.o, whose constructor
# turns on flush-to-zero for the whole process that loads the library.
# -fopenmp: the library needs libgomp.so.1, and the dynamic loader hands it the copy torch
# has already loaded (same soname), so its parallel regions use torch's threads and
# follow torch.set_num_threads.
COMPILE = ["-O3", "-march=native", "-ffast-math", "-fopenmp", "-fPIC", "-c"]
LINK = ["-shared", "-fopenmp", "-lm"]


def build(target: Path, defines: tuple[str, ...] = ()) -> None:
    """Compile every lm/kernels/*.c into one shared library at `target`, atomically."""
    cc = os.environ.get("CC", "cc")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        objs = [Path(tmp) / f"{src.stem}.o" for src in SOURCES]
        for src, obj in zip(SOURCES, objs):
            subprocess.run([cc, *COMPILE, *defines, str(src), "-o", str(obj)],
                           check=True, capture_output=True, timeout=120)
        built = Path(tmp) / target.name
        subprocess.run([cc, *map(str, objs), "-o", str(built), *LINK],
                       check=True, capture_output=True, timeout=120)
        os.replace(built, target)


def load(path: Path) -> ctypes.CDLL:
    """The library at `path` with its functions' signatures declared."""
    lib = ctypes.CDLL(str(path))
    ptr, i64 = ctypes.c_void_p, ctypes.c_int64
    for name, args in (("decode_attention_bf16", [ptr] * 5 + [i64] * 4 + [ctypes.c_float] + [i64] * 2),
                       ("llama_forward", [ptr, ptr, i64, i64, i64, ptr, ptr, ptr, i64, i64, ptr]),
                       ("qlinear", [ptr, ptr, i64, ptr])):
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = ctypes.c_int, args
    return lib


@functools.cache
def _library() -> ctypes.CDLL | None:
    cc = os.environ.get("CC", "cc")
    if platform.system() != "Linux" or shutil.which(cc) is None:
        return None
    recipe = " ".join([cc, *COMPILE, *LINK, _cpu_flags()]).encode()
    sources = b"".join(p.read_bytes() for p in sorted(KERNELS.glob("*.[ch]")))
    target = cache_dir() / f"kernels-{hashlib.sha256(sources + recipe).hexdigest()[:16]}.so"
    try:
        if not target.exists():
            build(target)
        return load(target)
    except (OSError, subprocess.SubprocessError) as e:
        log.warning("native kernels unavailable (%s); using torch ops", e)
        return None


def library() -> ctypes.CDLL | None:
    """The kernels, built on first use; None without a C compiler or when the build fails."""
    return _library()


def available() -> bool:
    return _library() is not None


def decode_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, positions: torch.Tensor,
                     scale: float) -> torch.Tensor:
    """q [B, kv, rep, hd] and k, v [B, kv, L, hd], all bf16 on the CPU; row b attends to keys
    [0, positions[b]]. Returns [B, kv, rep, hd] in fp32. Call only when `available()`."""
    B, kv, rep, hd = q.shape
    q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
    pos = positions.reshape(B).to(torch.int64).contiguous()
    out = torch.empty(q.shape, dtype=torch.float32)
    if _library().decode_attention_bf16(q.data_ptr(), k.data_ptr(), v.data_ptr(), pos.data_ptr(),
                                        out.data_ptr(), kv, rep, k.shape[2], hd, scale, 0, B * kv):
        raise MemoryError("decode attention: no scratch memory")
    return out


class QMat(ctypes.Structure):
    """kernels.h's qmat: one packed matrix (see lm/quant.py)."""
    _fields_ = [("q", ctypes.c_void_p), ("d", ctypes.c_void_p), ("m", ctypes.c_void_p),
                ("bias", ctypes.c_void_p), ("n", ctypes.c_int64), ("k", ctypes.c_int64),
                ("kp", ctypes.c_int64), ("bits", ctypes.c_int64)]


class QLayer(ctypes.Structure):
    _fields_ = [("ln1", ctypes.c_void_p), ("ln2", ctypes.c_void_p), ("qkv", QMat), ("o", QMat),
                ("gate_up", QMat), ("down", QMat)]


class QModel(ctypes.Structure):
    """forward.c's qmodel: the shape, and pointers to every weight of a packed Llama."""
    _fields_ = [*[(n, ctypes.c_int64) for n in ("layers", "hidden", "inter", "heads", "kv_heads",
                                                "head_dim", "vocab")],
                ("eps", ctypes.c_float), ("layer", ctypes.POINTER(QLayer)), ("norm", ctypes.c_void_p),
                ("cos", ctypes.c_void_p), ("sin", ctypes.c_void_p), ("head", QMat)]


def qlinear(w: QMat, x: torch.Tensor) -> torch.Tensor:
    """x [rows, k] fp32 times a packed matrix: [rows, n] fp32. Call only when `available()`."""
    x = x.float().contiguous()
    y = torch.empty(x.shape[0], w.n)
    if _library().qlinear(ctypes.byref(w), x.data_ptr(), x.shape[0], y.data_ptr()):
        raise MemoryError("qlinear: no scratch memory")
    return y


def llama_forward(md: QModel, x: torch.Tensor, T: int, first_row: int, positions: torch.Tensor,
                  caches, last_only: bool) -> torch.Tensor:
    """Every layer of a packed model over x [M, hidden] (fp32, overwritten): M // T rows of
    T queries at `positions` [M], keys and values into `caches` (bf16 KVCache per layer).
    Returns logits [M // T if last_only else M, vocab]."""
    M = x.shape[0]
    pos = positions.reshape(M).to(torch.int64).contiguous()
    ptrs = ctypes.c_void_p * len(caches)
    kc, vc = ptrs(*[c.k.data_ptr() for c in caches]), ptrs(*[c.v.data_ptr() for c in caches])
    logits = torch.empty(M // T if last_only else M, md.vocab)
    if _library().llama_forward(ctypes.byref(md), x.data_ptr(), M, T, first_row, pos.data_ptr(),
                                kc, vc, caches[0].length, int(last_only), logits.data_ptr()):
        raise MemoryError("llama_forward: no scratch memory")
    return logits
