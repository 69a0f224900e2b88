"""Multi-head self-attention with a choice of kernels (`config._attn_implementation`).

Every padded-batch backend takes `query`, `key`, `value` of shape (batch, heads, length, head_dim) and an
additive `attention_bias` broadcastable to (batch, heads, length, length) holding the padding mask and any
position bias (ALiBi), and returns the context of shape (batch, length, heads, head_dim) and, for eager, the
weights. On a packed batch (see `packing.py`), `packed_attention` runs the same kernels per sequence, or
flash-attn's varlen kernel for `attn_implementation="flash_attention_2"`.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from .alibi import alibi_bias
from .packing import PackedBatch
from .rotary import apply_rotary

FLASH_ATTENTION_INSTALL = "pip install flash-attn --no-build-isolation"


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
            f"attn_implementation={implementation!r} is not supported on padded batches; choose one of "
            f"{sorted(ATTENTION_FUNCTIONS)} (flash_attention_2 runs on packed batches, see PackedBatch)"
        )
    return ATTENTION_FUNCTIONS[implementation]


def flash_varlen_attention(
    query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, packed: PackedBatch, dropout: float, scaling: float
) -> torch.Tensor:
    """flash-attn 2's varlen kernel on packed (total_tokens, heads, head_dim) inputs, ALiBi included."""
    from flash_attn import flash_attn_varlen_func

    return flash_attn_varlen_func(
        query,
        key,
        value,
        cu_seqlens_q=packed.cu_seqlens,
        cu_seqlens_k=packed.cu_seqlens,
        max_seqlen_q=packed.max_seqlen,
        max_seqlen_k=packed.max_seqlen,
        dropout_p=dropout,
        softmax_scale=scaling,
        causal=False,
        alibi_slopes=packed.alibi_slopes,
    )  # (total_tokens, heads, head_dim)


def packed_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    packed: PackedBatch,
    implementation: str | None,
    dropout: float,
    scaling: float,
) -> torch.Tensor:
    """Attention within each sequence of a packed batch; no score involves a padding token.

    `query`, `key`, `value` are (1, heads, total_tokens, head_dim); returns the context (1, total_tokens, heads,
    head_dim). flash_attention_2 runs flash-attn's varlen kernel over all sequences at once. Otherwise each run
    of equal-length sequences goes to the sdpa (or eager) kernel as one (count, heads, length, head_dim) batch,
    `packed.query_chunk_size` query rows at a time, with the ALiBi bias built for just those rows: memory grows
    linearly with the length. Attention weights are not returned: ask the padded path for them.

    Example:
        >>> packed = PackedBatch.from_attention_mask(torch.tensor([[1, 1, 1], [1, 1, 0]]), alibi_slopes=[0.5, 0.25])
        >>> query = key = value = torch.randn(1, 2, packed.total_tokens, 4)
        >>> packed_attention(query, key, value, packed, "sdpa", 0.0, 0.5).shape
        torch.Size([1, 5, 2, 4])
    """
    query, key, value = (tensor[0].transpose(0, 1) for tensor in (query, key, value))  # (total_tokens, heads, dim)
    if implementation == "flash_attention_2":
        return flash_varlen_attention(query, key, value, packed, dropout, scaling)[None]

    attention = attention_function(implementation, output_attentions=False)
    num_heads, head_dim = query.shape[1:]
    contexts = []
    for run in packed.runs:
        tokens = slice(run.start, run.start + run.count * run.length)
        run_query, run_key, run_value = (
            tensor[tokens].reshape(run.count, run.length, num_heads, head_dim).transpose(1, 2)
            for tensor in (query, key, value)
        )  # (count, heads, length, head_dim)
        blocks = []
        for row_start in range(0, run.length, packed.query_chunk_size):
            row_end = min(row_start + packed.query_chunk_size, run.length)
            bias = None
            if packed.alibi_slopes is not None:
                bias = alibi_bias(packed.alibi_slopes, row_start, row_end, run.length, query.dtype)
            block, _ = attention(
                run_query[:, :, row_start:row_end], run_key, run_value, bias, dropout=dropout, scaling=scaling
            )  # (count, rows, heads, head_dim)
            blocks.append(block)
        contexts.append(torch.cat(blocks, dim=1).reshape(-1, num_heads, head_dim))
    return torch.cat(contexts)[None]


class FlashAttentionMixin:
    """Lets a `PreTrainedModel` whose attention is `SelfAttention` on packed batches load with
    `attn_implementation="flash_attention_2"`, and says what to install when flash-attn is missing.

    Put it before `PreTrainedModel` in the bases. Only flash-attn 2 is supported: its varlen kernel takes ALiBi
    slopes, and no code of ours runs on the GPU besides that call.
    """

    _supports_flash_attn = True

    def _check_and_adjust_attn_implementation(self, attn_implementation: str | None, *args, **kwargs) -> str:
        if attn_implementation is not None and "flash" in attn_implementation:
            if attn_implementation != "flash_attention_2":
                raise ValueError(
                    f"{type(self).__name__} supports attn_implementation='flash_attention_2' (the flash-attn "
                    f"package), 'sdpa' and 'eager'; got {attn_implementation!r}"
                )
            if importlib.util.find_spec("flash_attn") is None:
                raise ImportError(
                    "attn_implementation='flash_attention_2' needs the flash-attn package and a CUDA GPU: "
                    f"`{FLASH_ATTENTION_INSTALL}`. Without it use 'sdpa' (the default), which also skips padding."
                )
        return super()._check_and_adjust_attn_implementation(attn_implementation, *args, **kwargs)


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
        attention_bias: torch.Tensor | None = None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        output_attentions: bool = False,
        packed_batch: PackedBatch | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`hidden_states` is (batch, length, hidden) with `attention_bias`, or (1, total_tokens, hidden) with
        `packed_batch` (whose ALiBi slopes, if any, replace the bias; attention weights need the padded path)."""
        batch_size, seq_length, _ = hidden_states.shape
        head_shape = (batch_size, seq_length, self.num_heads, self.head_dim)
        query = self.query(hidden_states).view(head_shape).transpose(1, 2)  # (batch, heads, length, head_dim)
        key = self.key(hidden_states).view(head_shape).transpose(1, 2)
        value = self.value(hidden_states).view(head_shape).transpose(1, 2)
        if position_embeddings is not None:
            query, key = apply_rotary(query, key, *position_embeddings)

        implementation = getattr(self.config, "_attn_implementation", None)
        dropout = self.dropout if self.training else 0.0
        if packed_batch is None:
            attention = attention_function(implementation, output_attentions)
            context, weights = attention(query, key, value, attention_bias, dropout=dropout, scaling=self.scaling)
        else:
            context = packed_attention(query, key, value, packed_batch, implementation, dropout, self.scaling)
            weights = None
        return context.reshape(batch_size, seq_length, -1), weights


def padding_bias(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(batch, length) mask of 1 = token, 0 = padding -> additive (batch, 1, 1, length) bias in `dtype`."""
    bias = torch.zeros(attention_mask.shape, dtype=dtype, device=attention_mask.device)
    bias = bias.masked_fill(~attention_mask.bool(), torch.finfo(dtype).min)
    return bias[:, None, None, :]
