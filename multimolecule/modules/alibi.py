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
        positions = torch.arange(seq_length, device=device)
        distance = (positions[None, :] - positions[:, None]).abs()  # (seq_length, seq_length)
        slopes = torch.tensor(self.slopes, device=device, dtype=torch.float32)
        return -(slopes[:, None, None] * distance[None]).unsqueeze(0)  # (1, num_heads, seq_length, seq_length)
