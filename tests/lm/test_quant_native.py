"""The packed low-bit formats and their kernels agree with plain torch on the same numbers.

Each check runs twice: on the build for this CPU (AVX512-VNNI here) and on a build with
-DLM_GENERIC, the plain C loops any other CPU gets.
"""
import copy

import pytest
import torch
import torch.nn.functional as F

from lm import native, quant
from lm.model import Llama

from .conftest import tiny_config

pytestmark = pytest.mark.skipif(not native.available(), reason="no C compiler to build lm/kernels")


@pytest.fixture(scope="module", params=["native", "generic"])
def kernels(request, tmp_path_factory):
    """Which build the native calls go to."""
    if request.param == "native":
        yield native.library()
        return
    path = tmp_path_factory.mktemp("generic") / "kernels.so"
    native.build(path, ("-DLM_GENERIC",))
    lib = native.load(path)
    saved = native._library
    native._library = lambda: lib
    try:
        yield lib
    finally:
        native._library = saved


def quantised_activations(x: torch.Tensor) -> torch.Tensor:
    """What the kernels do to activations: int8 per block of 32, scale amax / 127."""
    k = x.shape[-1]
    blocks = F.pad(x, (0, -k % 32)).view(x.shape[0], -1, 32)
    amax = blocks.abs().amax(-1, keepdim=True)
    q = torch.where(amax > 0, blocks * 127 / amax, 0).round()
    return (q * amax / 127).view(x.shape[0], -1)[:, :k]


def test_weights_already_on_a_4bit_grid_repack_to_4_bits_without_loss():
    torch.manual_seed(0)
    w = torch.randn(40, 96) * 0.05
    u, d, m, bits = quant.pack(w, 4)
    grid = quant.unpack(u, d, m, bits, 40, 96).bfloat16().float()  # as a GGUF import stores it
    u, d, m, bits = quant.pack(grid)
    assert bits == 4
    assert (quant.unpack(u, d, m, bits, 40, 96) - grid).abs().max() <= 2 ** -8 * grid.abs().max()
    u, d, m, bits = quant.pack(w)  # ordinary weights: 8 bits, within half a step per block
    assert bits == 8
    err = (quant.unpack(u, d, m, bits, 40, 96) - w).abs()
    assert (err <= w.abs().amax() / 127).all()


@pytest.mark.parametrize("bits", [4, 8])
@pytest.mark.parametrize("n,k", [(48, 64), (37, 100), (16, 1536)])
def test_packed_linear_matches_torch_on_the_same_numbers(kernels, bits, n, k):
    torch.manual_seed(n + k)
    w, bias = torch.randn(n, k) * 0.05, torch.randn(n)
    lin = quant.PackedLinear(w, bias, bits)
    ref = quant.unpack(lin.weight, lin.d, lin.m, bits, n, k)
    for rows in (1, 3, 8, 13):  # every tile shape: 1-8 rows and a tail
        x = torch.randn(rows, k)
        want = quantised_activations(x) @ ref.T + bias
        torch.testing.assert_close(lin(x), want, atol=1e-4, rtol=1e-4)


def packed_pair(**cfg):
    torch.manual_seed(0)
    ref = Llama(tiny_config(**cfg))
    ref.init_weights()
    if ref.config.qkv_bias:
        for layer in ref.model.layers:
            for p in (layer.self_attn.q_proj, layer.self_attn.k_proj, layer.self_attn.v_proj):
                p.bias.data.normal_(0, 0.5)
    return ref.eval(), quant.quantize_int8(copy.deepcopy(ref), packed=True)


@pytest.mark.parametrize("cfg", [{}, {"model_type": "qwen2"}, {"num_key_value_heads": 6},
                                 {"hidden_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2}])
def test_the_fused_forward_matches_the_per_op_path(kernels, cfg):
    """Prompt chunks into two cache rows, then decode steps at different positions:
    the whole-model kernel against the same packed model run op by op in torch."""
    ref, q = packed_pair(**cfg)
    x = torch.randint(3, 640, (2, 30))
    with torch.inference_mode():
        got_cache, want_cache = q.new_cache(3, 96, torch.bfloat16), q.new_cache(3, 96, torch.bfloat16)
        fused, q.fused = q.fused, None
        pos = torch.arange(30).expand(2, 30)
        want = [q(x, positions=pos, cache=want_cache, first_row=1)]
        step = torch.tensor([[7], [9]])
        want.append(q(step, positions=torch.tensor([[30], [12]]), cache=want_cache, first_row=1))
        q.fused = fused
        got = [q(x, positions=pos, cache=got_cache, first_row=1)]
        got.append(q(step, positions=torch.tensor([[30], [12]]), cache=got_cache, first_row=1))
        full = ref(x)
    # The per-op path keeps prompt queries in fp32, the kernel rounds them to bf16 like decode.
    for g, w in zip(got, want):
        assert ((g - w).norm() / w.norm()) < 1e-2
    torch.testing.assert_close(got_cache[0].k, want_cache[0].k, atol=0.05, rtol=0.02)
    assert ((got[0] - full).norm() / full.norm()) < 0.05  # and close to fp32 itself


def test_a_rows_answer_does_not_depend_on_its_batch(kernels):
    _, q = packed_pair()
    with torch.inference_mode():
        alone, many = q.new_cache(1, 96, torch.bfloat16), q.new_cache(5, 96, torch.bfloat16)
        prompt = torch.randint(3, 640, (1, 20))
        q(prompt, positions=torch.arange(20)[None], cache=alone)
        for r in range(5):
            q(prompt if r == 0 else torch.randint(3, 640, (1, 20)), positions=torch.arange(20)[None],
              cache=many, first_row=r)
        b = q(torch.tensor([[5], [6], [7], [8], [9]]), positions=torch.full((5, 1), 20), cache=many)
        a = q(torch.tensor([[5]]), positions=torch.tensor([[20]]), cache=alone)
    assert torch.equal(a[0], b[0])


def test_packed_models_survive_a_pickle_to_another_process_layout():
    """The engine ships models through shared memory: the pointer table must follow."""
    _, q = packed_pair()
    x = torch.randint(3, 640, (1, 8))
    with torch.inference_mode():
        before = q(x, positions=torch.arange(8)[None], cache=q.new_cache(1, 96, torch.bfloat16))
        moved = copy.deepcopy(q)
        del q
        after = moved(x, positions=torch.arange(8)[None], cache=moved.new_cache(1, 96, torch.bfloat16))
    assert torch.equal(before, after)
