"""ALiBi (`multimolecule.modules.alibi`): the slopes of the paper for any number of heads, and the bias they give."""

from __future__ import annotations

import math

import pytest
import torch

from multimolecule.modules.alibi import AlibiPositionBias, alibi_bias, alibi_slopes


def paper_slopes(num_heads: int) -> list[float]:
    """Press et al. (2022), section 3: for n heads (a power of two) the geometric sequence 2^(-8/n), 2^(-16/n), ...,
    2^(-8); otherwise the slopes of the closest smaller power of two c, then every other slope of 2c heads
    (2^(-8/(2c)), 2^(-24/(2c)), ...) for the heads that remain."""
    closest = 2 ** math.floor(math.log2(num_heads))
    slopes = [2 ** (-8 * h / closest) for h in range(1, closest + 1)]
    return slopes + [2 ** (-8 * (2 * k - 1) / (2 * closest)) for k in range(1, num_heads - closest + 1)]


@pytest.mark.parametrize("num_heads", [1, 2, 4, 8, 16, 32, 3, 5, 6, 12, 20])
def test_slopes_are_the_papers(num_heads):
    assert alibi_slopes(num_heads) == pytest.approx(paper_slopes(num_heads), rel=1e-12, abs=0)


def test_bias_is_minus_slope_times_distance_for_any_rows():
    slopes = torch.tensor(alibi_slopes(6))
    full = alibi_bias(slopes, 0, 7, 7, torch.float32)
    expected = torch.tensor([[[-float(m) * abs(i - j) for j in range(7)] for i in range(7)] for m in slopes])
    assert full.shape == (1, 6, 7, 7)
    torch.testing.assert_close(full[0], expected, rtol=0, atol=0)
    assert torch.equal(alibi_bias(slopes, 2, 5, 7, torch.float32), full[:, :, 2:5])  # a block of query rows
    half = alibi_bias(slopes, 0, 7, 7, torch.bfloat16)
    assert half.dtype == torch.bfloat16 and torch.equal(half, full.to(torch.bfloat16))  # computed in fp32, then cast
    module = AlibiPositionBias(num_heads=6)
    assert torch.equal(module(seq_length=7, device=torch.device("cpu")), full)
    assert module.state_dict() == {}  # never saved, never loaded
