"""Multi-head self-attention with a choice of kernels (`config._attn_implementation`).

Every backend takes `query`, `key`, `value` of shape (batch, heads, length, head_dim) and an additive
`attention_bias` broadcastable to (batch, heads, length, length) holding the padding mask and any position
bias (ALiBi), and returns the context of shape (batch, length, heads, head_dim) and, for eager, the weights.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.nn import functional as F

from .rotary import apply_rotary


def eager_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_bias: torch.Tensor | None,
    dropout: float,
    scaling: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    scores = torch.matmul(query, key.transpose(-1, -2)) * scaling  # (batch, heads, length, length)
    if attention_bias is not None:
        scores = scores + attention_bias
    weights = F.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = F.dropout(weights, p=dropout, training=dropout > 0)
    context = torch.matmul(weights, value)
    return context.transpose(1, 2), weights


def sdpa_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_bias: torch.Tensor | None,
    dropout: float,
    scaling: float,
) -> tuple[torch.Tensor, None]:
    context = F.scaled_dot_product_attention(
        query, key, value, attn_mask=attention_bias, dropout_p=dropout, scale=scaling
    )
    return context.transpose(1, 2), None


ATTENTION_FUNCTIONS: dict[str, Callable] = {"eager": eager_attention, "sdpa": sdpa_attention}


def attention_function(implementation: str | None, output_attentions: bool) -> Callable:
    """The kernel for `implementation`; eager whenever the attention weights are asked for."""
    if output_attentions or implementation is None:
        return eager_attention
    if implementation not in ATTENTION_FUNCTIONS:
        raise ValueError(
            f"attn_implementation={implementation!r} is not supported; choose one of {sorted(ATTENTION_FUNCTIONS)}"
        )
    return ATTENTION_FUNCTIONS[implementation]


class SelfAttention(nn.Module):
    """Separate `query`, `key` and `value` projections (PEFT can target each) and the kernel dispatch.

    Example:
        >>> from transformers import PretrainedConfig
        >>> config = PretrainedConfig(hidden_size=16, num_attention_heads=2, attention_dropout=0.0)
        >>> attention = SelfAttention(config)
        >>> context, weights = attention(torch.randn(1, 5, 16), attention_bias=None, output_attentions=True)
        >>> context.shape, weights.shape
        (torch.Size([1, 5, 16]), torch.Size([1, 2, 5, 5]))
    """

    def __init__(self, config):
        super().__init__()
        if config.hidden_size % config.num_attention_heads:
            raise ValueError(
                f"hidden_size ({config.hidden_size}) must be a multiple of "
                f"num_attention_heads ({config.num_attention_heads})"
            )
        self.config = config
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.scaling = self.head_dim**-0.5
        self.dropout = config.attention_dropout
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_bias: torch.Tensor | None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        output_attentions: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch_size, seq_length, _ = hidden_states.shape
        head_shape = (batch_size, seq_length, self.num_heads, self.head_dim)
        query = self.query(hidden_states).view(head_shape).transpose(1, 2)  # (batch, heads, length, head_dim)
        key = self.key(hidden_states).view(head_shape).transpose(1, 2)
        value = self.value(hidden_states).view(head_shape).transpose(1, 2)
        if position_embeddings is not None:
            query, key = apply_rotary(query, key, *position_embeddings)

        attention = attention_function(getattr(self.config, "_attn_implementation", None), output_attentions)
        context, weights = attention(
            query, key, value, attention_bias, dropout=self.dropout if self.training else 0.0, scaling=self.scaling
        )
        return context.reshape(batch_size, seq_length, -1), weights


def padding_bias(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(batch, length) mask of 1 = token, 0 = padding -> additive (batch, 1, 1, length) bias in `dtype`."""
    bias = torch.zeros(attention_mask.shape, dtype=dtype, device=attention_mask.device)
    bias = bias.masked_fill(~attention_mask.bool(), torch.finfo(dtype).min)
    return bias[:, None, None, :]
