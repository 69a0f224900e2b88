"""Multi-head self-attention on padded or packed batches: which kernel runs is decided in one place.

`select_attention_kernel` picks the kernel, and with it the layout (padded or packed, see `packing.py`), from
`config._attn_implementation`, the device, the dtype, and whether attention dropout or attention weights are
needed. Its decision table is in docs/performance.md ("Attention kernels") and each row is tested
(tests/modules/test_attention.py). Every kernel is named after what it runs, and runs inside a profiler
range of that name (`multimolecule::<name>`), so a profile maps back to it:

| kernel | layout | what runs |
|---|---|---|
| `eager` | padded | `eager_attention`: matmul, softmax, matmul, with the full additive bias |
| `sdpa` | padded | transformers' `ALL_ATTENTION_FUNCTIONS["sdpa"]` (`scaled_dot_product_attention`) |
| `eager_by_runs`, `sdpa_by_runs` | packed | the padded kernel once per run of equal-length sequences |
| `flex_attention_packed` | packed | one FlexAttention call per layer (`flex_attention.py`) |
| `varlen_attention_packed` | packed | PyTorch's variable-length flash kernel (`varlen_attn`), no position bias |
| `flash_attn_varlen_packed` | packed | the flash-attn package's `flash_attn_varlen_func`, with ALiBi slopes |

A packed kernel of another name is one call, `register_packed_attention(name, kernel)`; a `name` transformers
does not know is also registered with its `AttentionInterface`, so that `from_pretrained(...,
attn_implementation=name)` accepts it. A packed kernel has transformers' attention signature with its
padding-free keywords, plus ours:

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
from contextlib import nullcontext
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from torch.profiler import record_function
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS, AttentionInterface

from .alibi import alibi_bias
from .flex_attention import flex_attention_packed, varlen_attention_packed, varlen_available
from .linear import Linear
from .packing import PackedBatch, is_tracing
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


def by_runs(padded_kernel: Callable, name: str) -> Callable:
    """The packed kernel that runs `padded_kernel` (transformers' signature) once per run of equal-length
    sequences, `query_chunk_size` query rows at a time, with the ALiBi bias of just those rows as the additive
    mask: memory linear in the length. The ALiBi biases are built once per batch and shared by the layers
    (`packed_alibi_bias`)."""

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
                block, _ = padded_kernel(
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

    kernel.__name__ = kernel.__qualname__ = name
    return kernel


def sdpa_attention_forward(module: nn.Module | None, *args, **kwargs) -> tuple[torch.Tensor, None]:
    """transformers' sdpa kernel, looked up when called (so that a kernel registered over it runs)."""
    return ALL_ATTENTION_FUNCTIONS["sdpa"](module, *args, **kwargs)


eager_by_runs = by_runs(eager_attention_forward, "eager_by_runs")
sdpa_by_runs = by_runs(sdpa_attention_forward, "sdpa_by_runs")


def attention_by_runs(implementation: str) -> Callable:
    """The packed kernel that runs the padded kernel of `implementation` (`"eager"` or `"sdpa"`) run by run.

    Example:
        >>> attention_by_runs("sdpa") is sdpa_by_runs
        True
    """
    return {"eager": eager_by_runs, "sdpa": sdpa_by_runs}[implementation]


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


def flash_attn_varlen_packed(
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
    """The flash-attn package's varlen kernel over all sequences at once, ALiBi slopes included."""
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


class PackedAttentionInterface(AttentionInterface):
    """The packed kernel of each `attn_implementation` name (where the device does not choose another, see
    `select_attention_kernel`); a registry apart from `ALL_ATTENTION_FUNCTIONS`, whose kernels of the same names
    take padded batches.

    Example:
        >>> sorted(PackedAttentionInterface._global_mapping)
        ['eager', 'flash_attention_2', 'flex_attention', 'sdpa']
    """

    _global_mapping = {
        "eager": eager_by_runs,
        "sdpa": sdpa_by_runs,
        "flash_attention_2": flash_attn_varlen_packed,
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


@dataclass(frozen=True)
class AttentionKernel:
    """The kernel `select_attention_kernel` chose: its `name` (what runs, the profiler range it runs in), the
    `function` (transformers' attention signature) and whether it takes a `packed` batch."""

    name: str
    function: Callable
    packed: bool

    def __call__(self, module, query, key, value, attention_bias, dropout, scaling, packed_batch=None):
        """The context (batch, length, heads, head_dim) and the weights (eager only, else None)."""
        packed_kwargs = {} if packed_batch is None else packed_batch.kernel_kwargs()
        with record_function(f"multimolecule::{self.name}") if not is_tracing() else nullcontext():
            return self.function(
                module, query, key, value, attention_bias, dropout=dropout, scaling=scaling, **packed_kwargs
            )


EAGER = AttentionKernel("eager", eager_attention_forward, packed=False)
HALF_PRECISION = (torch.float16, torch.bfloat16)


def select_attention_kernel(
    implementation: str,
    *,
    device: torch.device,
    dtype: torch.dtype,
    dropout: bool,
    output_attentions: bool,
    alibi: bool,
) -> AttentionKernel:
    """The attention kernel (and with it the layout) for `attn_implementation`, the device and dtype of the
    hidden states, whether attention dropout is on, whether attention weights are asked for, and whether the model
    adds an ALiBi bias. The table, row by row, is in docs/performance.md ("Attention kernels").

    Example:
        >>> cpu = dict(device=torch.device("cpu"), dtype=torch.float32, output_attentions=False, alibi=True)
        >>> select_attention_kernel("sdpa", dropout=False, **cpu).name
        'sdpa_by_runs'
        >>> select_attention_kernel("eager", dropout=False, **cpu).name
        'eager'
    """
    if output_attentions or implementation == "eager":
        return EAGER  # the only kernel that returns weights; the padded batch, as the originals compute it
    if is_tracing():  # torch.compile, torch.export: packing reads the mask's values, the padded batch does not
        if implementation == "sdpa":
            return AttentionKernel(
                "sdpa", ALL_ATTENTION_FUNCTIONS.get_interface(implementation, eager_attention_forward), packed=False
            )
        raise ValueError(
            f"attn_implementation={implementation!r} has no traceable kernel: use 'sdpa' or 'eager' under "
            "torch.compile and torch.export"
        )
    one_call = device.type == "cuda" and not dropout  # sdpa: one call per layer instead of one per run
    varlen = device.type == "cuda" and dtype in HALF_PRECISION and not alibi and varlen_available()
    if implementation == "flex_attention" or (implementation == "sdpa" and one_call):
        if dropout:
            raise ValueError("flex_attention has no attention dropout: set attention_dropout=0 or use sdpa to train")
        if varlen:
            return AttentionKernel("varlen_attention_packed", varlen_attention_packed, packed=True)
        return AttentionKernel("flex_attention_packed", flex_attention_packed, packed=True)
    if implementation not in PACKED_ATTENTION_FUNCTIONS:
        raise ValueError(
            f"attn_implementation={implementation!r} has no kernel for packed batches; registered: "
            f"{', '.join(PACKED_ATTENTION_FUNCTIONS)} (see multimolecule.modules.attention.register_packed_attention)"
        )
    function = PACKED_ATTENTION_FUNCTIONS[implementation]
    return AttentionKernel(getattr(function, "__name__", implementation), function, packed=True)


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
    """Attention within each sequence of a packed batch with the packed kernel registered for `implementation`.

    `query`, `key`, `value` are (1, heads, total_tokens, head_dim); returns the context (1, total_tokens, heads,
    head_dim). No score involves a padding token.

    Example:
        >>> packed = PackedBatch.from_attention_mask(torch.tensor([[1, 1, 1], [1, 1, 0]]), alibi_slopes=[0.5, 0.25])
        >>> query = key = value = torch.randn(1, 2, packed.total_tokens, 4)
        >>> packed_attention(query, key, value, packed, "sdpa", 0.0, 0.5).shape
        torch.Size([1, 5, 2, 4])
    """
    kernel = AttentionKernel(implementation, PACKED_ATTENTION_FUNCTIONS[implementation], packed=True)
    context, _ = kernel(module, query, key, value, None, dropout, scaling, packed)
    return context


class SelfAttention(nn.Module):
    """Separate `query`, `key` and `value` projections (PEFT can target each), run through the kernel the encoder
    chose (`select_attention_kernel`).

    Example:
        >>> from transformers import PretrainedConfig
        >>> config = PretrainedConfig(hidden_size=16, num_attention_heads=2, attention_dropout=0.0)
        >>> attention = SelfAttention(config)
        >>> context, weights = attention(torch.randn(1, 5, 16), attention_kernel=EAGER)
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
        *,
        attention_kernel: AttentionKernel,
        attention_bias: torch.Tensor | None = None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        packed_batch: PackedBatch | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`hidden_states` is (batch, length, hidden) with the additive `attention_bias` (a padded kernel), or
        (1, total_tokens, hidden) with `packed_batch` (a packed kernel). Returns the context (same shape) and the
        attention weights (eager only, else None)."""
        batch_size, seq_length, _ = hidden_states.shape
        head_shape = (batch_size, seq_length, self.num_heads, self.head_dim)
        query = self.query(hidden_states).view(head_shape).transpose(1, 2)  # (batch, heads, length, head_dim)
        key = self.key(hidden_states).view(head_shape).transpose(1, 2)
        value = self.value(hidden_states).view(head_shape).transpose(1, 2)
        if position_embeddings is not None:
            query, key = apply_rotary(query, key, *position_embeddings)

        dropout = self.dropout if self.training else 0.0
        context, weights = attention_kernel(
            self, query, key, value, attention_bias, dropout, self.scaling, packed_batch
        )  # (batch, length, heads, head_dim)
        return context.reshape(batch_size, seq_length, -1), weights


def padding_bias(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(batch, length) mask of 1 = token, 0 = padding -> additive (batch, 1, 1, length) bias in `dtype`."""
    bias = torch.zeros(attention_mask.shape, dtype=dtype, device=attention_mask.device)
    bias = bias.masked_fill(~attention_mask.bool(), torch.finfo(dtype).min)
    return bias[:, None, None, :]
