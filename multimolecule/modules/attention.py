"""Multi-head self-attention on padded or packed batches, with kernels looked up in transformers' registries.

Which layout: `uses_packed_batch(config, output_attentions)` decides, for every encoder. Packed (padding-free,
see `packing.py`) unless attention weights are asked for or `attn_implementation` is `"eager"`: the eager path
runs the padded batch with the full additive bias, as the original implementations compute it.

Which kernel: `config._attn_implementation`, with the meaning it has everywhere in transformers (`"sdpa"` is
PyTorch's `scaled_dot_product_attention`, `"flash_attention_2"` the flash-attn 2 package, ...). On a packed
batch the kernel is looked up in `PackedAttentionInterface`, a transformers `AttentionInterface` of its own
whose kernels attend within each sequence of the packed batch:

- `"eager"` and `"sdpa"`: `attention_by_runs` calls the padded kernel (ours for eager, as in every transformers
  model; `ALL_ATTENTION_FUNCTIONS["sdpa"]`) once per run of equal-length sequences, `query_chunk_size` query
  rows at a time, with the ALiBi bias of just those rows as the additive mask: memory linear in the length.
  On CUDA, `"sdpa"` instead makes one call per layer with PyTorch's own kernels, as `"flex_attention"` does
  (`one_call_is_faster`).
  The ALiBi biases are built once per batch and shared by the layers (`packed_alibi_bias`).
- `"flex_attention"`: one FlexAttention call per layer over all sequences, a block-sparse document mask and
  ALiBi as a score modification; PyTorch's varlen flash kernel for models without ALiBi on CUDA in fp16/bf16
  (`flex_attention.py`). Needs no package besides PyTorch; compiled once per token bucket.
- `"flash_attention_2"`: flash-attn's varlen kernel, which takes ALiBi slopes (transformers' flash path does not).

Adding a packed kernel is one call, `register_packed_attention(name, kernel)`; a `name` transformers does not
know is also registered with its `AttentionInterface`, so that `from_pretrained(..., attn_implementation=name)`
accepts it. A packed kernel has transformers' attention signature with its padding-free keywords, plus ours:

    kernel(module, query, key, value, attention_mask, dropout=0.0, scaling=None, *,
           cu_seq_lens_q, cu_seq_lens_k, max_length_q, max_length_k, alibi_slopes, packed_batch, **kwargs)
        -> (context, None)

- `query`, `key`, `value`: (1, heads, total_tokens, head_dim), the sequences side by side (rotary positions,
  if any, already applied); `attention_mask` is None: where sequences start is in the keywords.
- `cu_seq_lens_q` = `cu_seq_lens_k`: (batch + 1,) int32 offsets of the sequences; `max_length_q` =
  `max_length_k`: the longest sequence (int).
- `alibi_slopes`: (heads,) fp32 slopes for the bias `-slope * |i - j|` within each sequence, or None (no ALiBi).
- `packed_batch`: the `PackedBatch` itself (runs of equal-length sequences, `query_chunk_size`,
  `position_ids`), for kernels that need more than the offsets.
- returns `context` (1, total_tokens, heads, head_dim) and no weights (weights come from the padded path).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS, AttentionInterface

from .alibi import alibi_bias
from .flex_attention import flex_attention_packed
from .linear import Linear
from .packing import PackedBatch
from .rotary import apply_rotary


def eager_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_bias: torch.Tensor | None,
    dropout: float,
    scaling: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`softmax(q k^T * scaling + bias) v` on (batch, heads, length, head_dim) inputs, with an additive `bias`
    broadcastable to (batch, heads, length, length). Returns the context (batch, length, heads, head_dim) and
    the weights."""
    scores = torch.matmul(query, key.transpose(-1, -2)) * scaling  # (batch, heads, length, length)
    if attention_bias is not None:
        scores = scores + attention_bias
    weights = F.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = F.dropout(weights, p=dropout, training=dropout > 0)
    context = torch.matmul(weights, value)
    return context.transpose(1, 2), weights


def eager_attention_forward(
    module: nn.Module | None,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """`eager_attention` with transformers' attention signature (transformers registers no eager kernel)."""
    return eager_attention(query, key, value, attention_mask, dropout, scaling or query.shape[-1] ** -0.5)


def attention_by_runs(implementation: str) -> Callable:
    """The packed kernel that runs the padded kernel `implementation` (`"eager"` or `"sdpa"`) run by run."""

    def kernel(
        module: nn.Module | None,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        attention_mask: None,
        dropout: float = 0.0,
        scaling: float | None = None,
        *,
        packed_batch: PackedBatch,
        alibi_slopes: torch.Tensor | None = None,
        **kwargs,
    ) -> tuple[torch.Tensor, None]:
        attention = ALL_ATTENTION_FUNCTIONS.get_interface(implementation, eager_attention_forward)
        query, key, value = (tensor[0].transpose(0, 1) for tensor in (query, key, value))  # (tokens, heads, dim)
        num_heads, head_dim = query.shape[1:]
        chunk = packed_batch.query_chunk_size
        context = query.new_empty(query.shape)  # (tokens, heads, head_dim), filled run by run
        for run in packed_batch.runs:
            tokens = slice(run.start, run.start + run.count * run.length)
            run_query, run_key, run_value = (
                tensor[tokens].view(run.count, run.length, num_heads, head_dim).transpose(1, 2)
                for tensor in (query, key, value)
            )  # (count, heads, length, head_dim)
            run_context = context[tokens].view(run.count, run.length, num_heads, head_dim)
            for row_start in range(0, run.length, chunk):
                row_end = min(row_start + chunk, run.length)
                bias = None
                if alibi_slopes is not None:
                    bias = packed_alibi_bias(packed_batch, row_start, row_end, run.length, query.dtype)
                block, _ = attention(
                    module,
                    run_query[:, :, row_start:row_end],
                    run_key,
                    run_value,
                    bias,
                    dropout=dropout,
                    scaling=scaling,
                    is_causal=False,
                )  # (count, rows, heads, head_dim)
                run_context[:, row_start:row_end] = block
        return context[None], None

    return kernel


# ALiBi biases of one packed batch are built once and reused by every layer, up to this many bytes in all.
ALIBI_CACHE_BYTES = 256 * 2**20


def packed_alibi_bias(
    packed: PackedBatch, row_start: int, row_end: int, length: int, dtype: torch.dtype
) -> torch.Tensor:
    """`alibi_bias` for query rows `row_start:row_end` of a sequence of `length` tokens, kept in `packed.cache`
    for the next layers while the biases cached so far take less than `ALIBI_CACHE_BYTES`."""
    key = ("alibi", row_start, row_end, length, dtype)
    if key in packed.cache:
        return packed.cache[key]
    bias = alibi_bias(packed.alibi_slopes, row_start, row_end, length, dtype)
    cached_bytes = packed.cache.get("alibi_bytes", 0) + bias.numel() * bias.element_size()
    if cached_bytes <= ALIBI_CACHE_BYTES:
        packed.cache[key], packed.cache["alibi_bytes"] = bias, cached_bytes
    return bias


def flash_attention_2_packed(
    module: nn.Module | None,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: None,
    dropout: float = 0.0,
    scaling: float | None = None,
    *,
    cu_seq_lens_q: torch.Tensor,
    cu_seq_lens_k: torch.Tensor,
    max_length_q: int,
    max_length_k: int,
    alibi_slopes: torch.Tensor | None = None,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """flash-attn 2's varlen kernel over all sequences at once, ALiBi slopes included."""
    from flash_attn import flash_attn_varlen_func

    query, key, value = (tensor[0].transpose(0, 1) for tensor in (query, key, value))  # (tokens, heads, dim)
    context = flash_attn_varlen_func(
        query,
        key,
        value,
        cu_seqlens_q=cu_seq_lens_q,
        cu_seqlens_k=cu_seq_lens_k,
        max_seqlen_q=max_length_q,
        max_seqlen_k=max_length_k,
        dropout_p=dropout,
        softmax_scale=scaling,
        causal=False,
        alibi_slopes=alibi_slopes,
    )  # (total_tokens, heads, head_dim)
    return context[None], None


sdpa_by_runs = attention_by_runs("sdpa")


def sdpa_packed(module: nn.Module | None, query: torch.Tensor, *args, dropout: float = 0.0, **kwargs):
    """The packed kernel of `"sdpa"`: one call per layer with PyTorch's own kernels (`flex_attention_packed`:
    varlen flash, or FlexAttention for ALiBi) where `one_call_is_faster`, else sdpa run by run."""
    if one_call_is_faster(query, dropout):
        return flex_attention_packed(module, query, *args, dropout=dropout, **kwargs)
    return sdpa_by_runs(module, query, *args, dropout=dropout, **kwargs)


def one_call_is_faster(query: torch.Tensor, dropout: float) -> bool:
    """Whether the packed sdpa kernel makes one FlexAttention/varlen call per layer: on CUDA, without attention
    dropout (neither kernel has it). On CPU sdpa runs run by run: it measured faster than FlexAttention in the
    side-by-side benchmark, and compiling a bucket delays the first batch (docs/performance.md).

    Example:
        >>> one_call_is_faster(torch.zeros(1, 2, 100, 8), dropout=0.0)  # CPU: sdpa run by run
        False
    """
    return query.is_cuda and not dropout


class PackedAttentionInterface(AttentionInterface):
    """Packed-batch kernels by `attn_implementation` name; a registry apart from `ALL_ATTENTION_FUNCTIONS`,
    whose kernels of the same names take padded batches.

    Example:
        >>> sorted(PackedAttentionInterface._global_mapping)
        ['eager', 'flash_attention_2', 'flex_attention', 'sdpa']
    """

    _global_mapping = {
        "eager": attention_by_runs("eager"),
        "sdpa": sdpa_packed,
        "flash_attention_2": flash_attention_2_packed,
        "flex_attention": flex_attention_packed,
    }


PACKED_ATTENTION_FUNCTIONS = PackedAttentionInterface()


def register_packed_attention(name: str, kernel: Callable) -> None:
    """Make `attn_implementation=name` run `kernel` on packed batches (signature in the module docstring).

    A name transformers does not know is also registered with transformers' `AttentionInterface` (with the same
    kernel), so that `from_pretrained(..., attn_implementation=name)` accepts it.
    """
    PackedAttentionInterface.register(name, kernel)
    if name not in ALL_ATTENTION_FUNCTIONS:
        AttentionInterface.register(name, kernel)


def uses_packed_batch(config, output_attentions: bool) -> bool:
    """Whether the encoder runs on a packed batch: always, except for eager attention or attention weights.

    Example:
        >>> from transformers import PretrainedConfig
        >>> config = PretrainedConfig()
        >>> config._attn_implementation = "sdpa"
        >>> uses_packed_batch(config, output_attentions=False), uses_packed_batch(config, output_attentions=True)
        (True, False)
    """
    return not output_attentions and config._attn_implementation != "eager"


def packed_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    packed: PackedBatch,
    implementation: str,
    dropout: float,
    scaling: float,
    module: nn.Module | None = None,
) -> torch.Tensor:
    """Attention within each sequence of a packed batch with the packed kernel of `implementation`.

    `query`, `key`, `value` are (1, heads, total_tokens, head_dim); returns the context (1, total_tokens, heads,
    head_dim). No score involves a padding token.

    Example:
        >>> packed = PackedBatch.from_attention_mask(torch.tensor([[1, 1, 1], [1, 1, 0]]), alibi_slopes=[0.5, 0.25])
        >>> query = key = value = torch.randn(1, 2, packed.total_tokens, 4)
        >>> packed_attention(query, key, value, packed, "sdpa", 0.0, 0.5).shape
        torch.Size([1, 5, 2, 4])
    """
    if implementation not in PACKED_ATTENTION_FUNCTIONS:
        raise ValueError(
            f"attn_implementation={implementation!r} has no kernel for packed batches; registered: "
            f"{', '.join(PACKED_ATTENTION_FUNCTIONS)} (see multimolecule.modules.attention.register_packed_attention)"
        )
    context, _ = PACKED_ATTENTION_FUNCTIONS[implementation](
        module,
        query,
        key,
        value,
        None,
        dropout=dropout,
        scaling=scaling,
        cu_seq_lens_q=packed.cu_seqlens,
        cu_seq_lens_k=packed.cu_seqlens,
        max_length_q=packed.max_seqlen,
        max_length_k=packed.max_seqlen,
        alibi_slopes=packed.alibi_slopes,
        packed_batch=packed,
    )
    return context


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
        self.is_causal = False
        self.query = Linear(config.hidden_size, config.hidden_size)
        self.key = Linear(config.hidden_size, config.hidden_size)
        self.value = Linear(config.hidden_size, config.hidden_size)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_bias: torch.Tensor | None = None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        output_attentions: bool = False,
        packed_batch: PackedBatch | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`hidden_states` is (batch, length, hidden) with the additive `attention_bias` (eager attention), or
        (1, total_tokens, hidden) with `packed_batch` (the packed kernel of `config._attn_implementation`)."""
        batch_size, seq_length, _ = hidden_states.shape
        head_shape = (batch_size, seq_length, self.num_heads, self.head_dim)
        query = self.query(hidden_states).view(head_shape).transpose(1, 2)  # (batch, heads, length, head_dim)
        key = self.key(hidden_states).view(head_shape).transpose(1, 2)
        value = self.value(hidden_states).view(head_shape).transpose(1, 2)
        if position_embeddings is not None:
            query, key = apply_rotary(query, key, *position_embeddings)

        dropout = self.dropout if self.training else 0.0
        if packed_batch is None:
            context, weights = eager_attention(query, key, value, attention_bias, dropout, self.scaling)
        else:
            implementation = self.config._attn_implementation
            context = packed_attention(query, key, value, packed_batch, implementation, dropout, self.scaling, self)
            weights = None
        return context.reshape(batch_size, seq_length, -1), weights


def padding_bias(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(batch, length) mask of 1 = token, 0 = padding -> additive (batch, 1, 1, length) bias in `dtype`."""
    bias = torch.zeros(attention_mask.shape, dtype=dtype, device=attention_mask.device)
    bias = bias.masked_fill(~attention_mask.bool(), torch.finfo(dtype).min)
    return bias[:, None, None, :]
