"""Attention with Linear Biases (ALiBi, Press et al. 2022), built for any sequence length."""

from __future__ import annotations

import math

import torch
from torch import nn


def alibi_slopes(num_heads: int) -> list[float]:
    """The per-head slopes of ALiBi, as the original papers and DNABERT-2 compute them.

    Example:
        >>> alibi_slopes(4)
        [0.25, 0.0625, 0.015625, 0.00390625]
    """

    def power_of_two_slopes(n: int) -> list[float]:
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start ** (i + 1) for i in range(n)]

    if math.log2(num_heads).is_integer():
        return power_of_two_slopes(num_heads)
    closest = 2 ** math.floor(math.log2(num_heads))
    return power_of_two_slopes(closest) + power_of_two_slopes(2 * closest)[0::2][: num_heads - closest]


def alibi_bias(
    slopes: torch.Tensor, query_start: int, query_end: int, key_length: int, dtype: torch.dtype
) -> torch.Tensor:
    """The ALiBi bias `-slope_h * |i - j|` for query rows `query_start:query_end` of one sequence.

    Returns a (1, heads, query_end - query_start, key_length) tensor, computed in fp32 and cast to `dtype`.

    Example:
        >>> alibi_bias(torch.tensor([0.5, 0.25]), 1, 2, 3, torch.float32)[0, :, 0].tolist()
        [[-0.5, -0.0, -0.5], [-0.25, -0.0, -0.25]]
    """
    queries = torch.arange(query_start, query_end, device=slopes.device, dtype=torch.float32)
    keys = torch.arange(key_length, device=slopes.device, dtype=torch.float32)
    distance = (queries[:, None] - keys[None, :]).abs_()  # (rows, key_length), exact integers in fp32
    return (distance[None] * -slopes[:, None, None]).to(dtype)[None]  # one pass over (heads, rows, key_length)


class AlibiPositionBias(nn.Module):
    """The additive attention bias `-slope_h * |i - j|`, computed for whatever length the input has.

    Example:
        >>> bias = AlibiPositionBias(num_heads=4)(seq_length=3, device=torch.device("cpu"))
        >>> bias.shape
        torch.Size([1, 4, 3, 3])
        >>> bias[0, 0, 0].tolist()
        [-0.0, -0.25, -0.5]
    """

    def __init__(self, num_heads: int):
        super().__init__()
        # A plain list, not a buffer: never in the state dict, never cast or left uninitialised by loading.
        self.slopes = alibi_slopes(num_heads)

    def forward(self, seq_length: int, device: torch.device) -> torch.Tensor:
        slopes = torch.tensor(self.slopes, device=device, dtype=torch.float32)
        return alibi_bias(slopes, 0, seq_length, seq_length, torch.float32)  # (1, num_heads, length, length)
