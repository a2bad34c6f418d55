"""The torch fallback (Int8Linear), what machines without a C compiler serve with."""
import copy

import pytest
import torch

from lm import quant
from lm.model import Llama

from .conftest import tiny_config


@pytest.mark.skipif(not quant.supported(), reason="this torch build has no CPU int8 kernel")
@pytest.mark.parametrize("cfg", [{}, {"model_type": "qwen2"}])
def test_int8_fallback_stays_close_to_fp32_with_and_without_a_cache(cfg):
    torch.manual_seed(0)
    ref = Llama(tiny_config(**cfg))
    ref.init_weights()
    q = quant.quantize_int8(copy.deepcopy(ref), packed=False)
    assert q.fused is None and isinstance(q.lm_head, quant.Int8Linear)
    x = torch.randint(3, 640, (2, 24))
    with torch.inference_mode():
        want = ref(x)
        plain = q(x)
        cached = q(x, positions=torch.arange(24).expand(2, 24), cache=q.new_cache(2, 96, torch.bfloat16))
    for got in (plain, cached):
        assert ((got - want).norm() / want.norm()) < 0.05
