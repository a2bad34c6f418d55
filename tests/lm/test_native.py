"""The native decode-attention kernel agrees with the matmul path it replaces."""
import pytest
import torch

from lm import native

pytestmark = pytest.mark.skipif(not native.available(), reason="no C compiler to build lm/kernels")


def matmul_attention(q, k, v, positions):
    hd = q.shape[-1]
    mask = (torch.arange(k.shape[2])[None, :] <= positions[:, None])[:, None, None, :]
    scores = (q.float() @ k.float().transpose(-1, -2)) * hd ** -0.5
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1) @ v.float()


@pytest.mark.parametrize("B,kv,rep,L,hd", [(5, 6, 1, 128, 48), (3, 2, 3, 256, 64), (2, 1, 4, 130, 40)])
def test_kernel_matches_matmuls_and_reads_only_each_rows_keys(B, kv, rep, L, hd):
    torch.manual_seed(0)
    q = torch.randn(B, kv, rep, hd).bfloat16()
    k, v = torch.randn(B, kv, L, hd).bfloat16(), torch.randn(B, kv, L, hd).bfloat16()
    positions = torch.tensor([0, L - 1, 17, 64, 99][:B])
    got = native.decode_attention(q, k, v, positions, hd ** -0.5)
    torch.testing.assert_close(got, matmul_attention(q, k, v, positions), atol=2e-5, rtol=1e-4)
    k[:, :, L - 1], v[:, :, L - 1] = float("nan"), float("nan")  # past every row but row 1's end
    again = native.decode_attention(q, k, v, positions, hd ** -0.5)
    assert torch.equal(again[[r for r in range(B) if r != 1]], got[[r for r in range(B) if r != 1]])


def test_the_build_is_cached_by_source_and_cpu(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    native._library.cache_clear()
    try:
        assert native.available()
        assert 1e-310 * 1.0 > 0 and torch.tensor([1e-40]).item() > 0, "loading it turned on flush-to-zero"
        built = list((tmp_path / "shopbot-lm").glob("kernels-*.so"))
        assert len(built) == 1
        native._library.cache_clear()
        assert native.available() and list((tmp_path / "shopbot-lm").iterdir()) == built
    finally:
        native._library.cache_clear()
