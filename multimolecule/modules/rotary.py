"""Rotary position embeddings (Su et al. 2021), as ESM and the Nucleotide Transformer use them."""

from __future__ import annotations

import torch
from torch import nn


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """Rotate the two halves of the last dimension: `(x1, x2) -> (-x2, x1)`."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class RotaryEmbedding(nn.Module):
    """Cosine and sine tables for rotary embeddings, always computed in fp32 whatever the model's dtype.

    Example:
        >>> rotary = RotaryEmbedding(head_dim=8)
        >>> query = key = torch.ones(1, 2, 5, 8)  # (batch, heads, length, head_dim)
        >>> cos, sin = rotary(torch.arange(5)[None])
        >>> rotated_query, rotated_key = apply_rotary(query, key, cos, sin)
        >>> rotated_query.shape
        torch.Size([1, 2, 5, 8])
    """

    def __init__(self, head_dim: int, base: float = 10000.0):
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"rotary embeddings need an even head dimension, got {head_dim}")
        self.head_dim = head_dim
        self.base = base

    def forward(self, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """`position_ids` (batch, length) -> `cos`, `sin` of shape (batch, 1, length, head_dim), in fp32."""
        exponent = torch.arange(0, self.head_dim, 2, device=position_ids.device, dtype=torch.float32) / self.head_dim
        inv_freq = 1.0 / (self.base**exponent)  # (head_dim / 2,)
        freqs = position_ids.to(torch.float32)[..., None] * inv_freq  # (batch, length, head_dim / 2)
        emb = torch.cat((freqs, freqs), dim=-1)[:, None]  # (batch, 1, length, head_dim)
        return emb.cos(), emb.sin()


def apply_rotary(
    query: torch.Tensor, key: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotate `query` and `key` (batch, heads, length, head_dim); the rotation runs in fp32."""
    dtype = query.dtype
    query, key = query.float(), key.float()
    query = query * cos + rotate_half(query) * sin
    key = key * cos + rotate_half(key) * sin
    return query.to(dtype), key.to(dtype)
