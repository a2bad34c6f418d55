"""Device and precision choice, in one place so training, eval and the engine agree.

bf16 autocast is the default wherever the hardware does bf16 matrix multiplies natively:
every CUDA GPU we target, and CPUs with AVX512-BF16 or AMX (about 3x faster GEMMs than
fp32 there). Elsewhere bf16 on CPU is emulated and slower, so we stay in fp32.
"""
from __future__ import annotations

import contextlib
import ctypes
import functools
import sys

import torch

from .errors import LMError


def pick_device(request: str = "auto") -> torch.device:
    if request == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if request.startswith("cuda") and not torch.cuda.is_available():
        raise LMError("--device cuda was requested but no CUDA GPU is available "
                      "(install the CUDA build of torch, or use --device cpu)")
    if request not in ("cpu",) and not request.startswith("cuda"):
        raise LMError(f"unknown device {request!r} (use auto, cpu or cuda)")
    return torch.device(request)


@functools.cache
def cpu_has_native_bf16() -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def pick_dtype(device: torch.device, precision: str = "auto") -> torch.dtype:
    """The compute dtype for `precision` in auto|bf16|fp32."""
    if precision == "fp32":
        return torch.float32
    if precision == "bf16":
        return torch.bfloat16
    if precision != "auto":
        raise LMError(f"unknown precision {precision!r} (use auto, bf16 or fp32)")
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    return torch.bfloat16 if cpu_has_native_bf16() else torch.float32


def autocast(device: torch.device, dtype: torch.dtype):
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


@functools.cache
def keep_freed_memory() -> bool:
    """Stop glibc from handing big freed buffers back to the OS after every step.

    A training step allocates and frees the same large activation and gradient buffers
    each time. By default glibc serves those with mmap and unmaps them on free, so the
    next step page-faults every page in again (a measured third of a CPU step here).
    Raising the mmap and trim thresholds keeps them in the heap for reuse.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(libc.mallopt(m_mmap_threshold, 1 << 30) and libc.mallopt(m_trim_threshold, 1 << 31))
