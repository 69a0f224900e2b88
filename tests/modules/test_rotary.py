"""Rotary embeddings (`multimolecule.modules.rotary`) against a direct rotation of complex numbers."""

from __future__ import annotations

import pytest
import torch

from multimolecule.modules.rotary import RotaryEmbedding, apply_rotary


def rotated(x: torch.Tensor, positions: torch.Tensor, base: float) -> torch.Tensor:
    """Su et al. (2021), in the half-split layout: the pairs (x[i], x[i + d/2]) as complex numbers, the i-th turned
    by position * base^(-2i/d)."""
    half = x.shape[-1] // 2
    pairs = torch.complex(x[..., :half].double(), x[..., half:].double())  # (batch, heads, length, d/2)
    frequencies = base ** (-2 * torch.arange(half, dtype=torch.float64) / x.shape[-1])  # (d/2,)
    angles = positions.double()[:, None, :, None] * frequencies  # (batch, 1, length, d/2)
    turned = pairs * torch.polar(torch.ones_like(angles), angles)
    return torch.cat([turned.real, turned.imag], dim=-1)


@pytest.mark.parametrize("base", [10000.0, 100.0])
def test_rotation_is_the_complex_rotation(base):
    generator = torch.Generator().manual_seed(0)
    query, key = torch.randn(2, 2, 3, 5, 8, generator=generator)  # (batch, heads, length, head_dim) each
    positions = torch.tensor([[0, 1, 2, 3, 4], [7, 3, 0, 1, 11]])
    cos, sin = RotaryEmbedding(head_dim=8, base=base)(positions)
    assert cos.shape == sin.shape == (2, 1, 5, 8) and cos.dtype == sin.dtype == torch.float32
    rotated_query, rotated_key = apply_rotary(query, key, cos, sin)
    torch.testing.assert_close(rotated_query.double(), rotated(query, positions, base), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(rotated_key.double(), rotated(key, positions, base), rtol=1e-5, atol=1e-5)


def test_half_precision_inputs_are_rotated_in_fp32():
    query, key = torch.randn(2, 1, 2, 4, 16, generator=torch.Generator().manual_seed(1)).half()
    cos, sin = RotaryEmbedding(head_dim=16)(torch.arange(4)[None] * 1000)
    half_query, half_key = apply_rotary(query, key, cos, sin)
    full_query, full_key = apply_rotary(query.float(), key.float(), cos, sin)
    assert half_query.dtype == half_key.dtype == torch.float16
    assert torch.equal(half_query, full_query.half()) and torch.equal(half_key, full_key.half())


def test_an_odd_head_dimension_is_refused():
    with pytest.raises(ValueError, match="rotary embeddings need an even head dimension, got 7"):
        RotaryEmbedding(head_dim=7)
