"""Padding-free attention with PyTorch's own kernels: FlexAttention (CPU and CUDA) and varlen flash (CUDA).

No extra package is needed. On a packed batch (see `packing.py`) every layer makes ONE attention call over all
its sequences:

* `flex_attention_packed`: FlexAttention with a document mask (a token attends only to tokens of its own
  sequence, given to FlexAttention as a block-sparse `BlockMask`, so blocks between different sequences are
  skipped) and, for ALiBi models, the bias `-slope_h * |i - j|` as a score modification: no bias tensor is built.
  FlexAttention is compiled by `torch.compile`; the packed length is padded up to a bucket (`token_bucket`), so a
  job compiles once per bucket, not once per batch. The block mask is built once per forward and shared by every
  layer (`flex_layout`).
* `varlen_attention_packed`: `torch.nn.attention.varlen.varlen_attn`, PyTorch's variable-length flash
  attention, for models without a position bias (the Nucleotide Transformer) on CUDA in fp16/bf16.

Which of them runs, for `attn_implementation="flex_attention"` and for `"sdpa"` on CUDA, is decided by
`select_attention_kernel` in `attention.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import torch
from torch import nn
from torch.nn import functional as F

from ..integrations.pytorch import recompile_limit
from .packing import PackedBatch

# FlexAttention's block: the block mask says, per (query block, key block) tile, whether to skip, mask or run it.
FLEX_BLOCK_SIZE = 128
# Compiled graphs kept for FlexAttention, one per token bucket (buckets up to 2**20 tokens: 26).
MAX_BUCKETS = 64


def token_bucket(total_tokens: int) -> int:
    """The packed length FlexAttention runs at: the smallest of 128, 256, 384, 512, 768, 1024, 1536, 2048, ...
    (a power of two times 128, or 1.5 times one) that holds `total_tokens`; padding is at most a third.

    Example:
        >>> [token_bucket(n) for n in (1, 128, 129, 300, 513, 1600, 5000)]
        [128, 128, 256, 384, 768, 2048, 6144]
    """
    bucket = FLEX_BLOCK_SIZE
    while bucket < total_tokens:
        if bucket * 3 // 2 >= total_tokens and bucket >= 2 * FLEX_BLOCK_SIZE:
            return bucket * 3 // 2
        bucket *= 2
    return bucket


@dataclass
class FlexLayout:
    """What FlexAttention needs to know about a packed batch, built once per forward for every layer.

    Args:
        document: (bucket,) int32 sequence index of each packed token; -1 at the bucket's padding.
        block_mask: The block-sparse document mask.
        total_tokens: Real tokens in the batch.
        bucket: Packed length the kernel runs at (`token_bucket(total_tokens)`).
    """

    document: torch.Tensor
    block_mask: object  # torch.nn.attention.flex_attention.BlockMask
    total_tokens: int
    bucket: int


def flex_layout(packed: PackedBatch) -> FlexLayout:
    """The `FlexLayout` of `packed`, built on first use and kept in `packed.cache` for the other layers.

    Example:
        >>> packed = PackedBatch.from_attention_mask(torch.tensor([[1, 1, 1], [1, 1, 0]]))
        >>> layout = flex_layout(packed)
        >>> layout.bucket, layout.document[:6].tolist()
        (128, [0, 0, 0, 1, 1, -1])
    """
    if "flex_layout" not in packed.cache:
        packed.cache["flex_layout"] = build_flex_layout(packed)
    return packed.cache["flex_layout"]


def build_flex_layout(packed: PackedBatch) -> FlexLayout:
    from torch.nn.attention.flex_attention import BlockMask

    device = packed.cu_seqlens.device
    total, bucket = packed.total_tokens, token_bucket(packed.total_tokens)
    lengths = packed.cu_seqlens.diff()
    document = torch.full((bucket,), -1, dtype=torch.int32, device=device)
    document[:total] = torch.repeat_interleave(torch.arange(len(lengths), device=device, dtype=torch.int32), lengths)

    # Per block of 128 tokens, the first and last sequence it holds (padding counts as one past the last
    # sequence). Packed sequences are contiguous, so two blocks interact iff their ranges overlap, and a tile
    # needs no mask iff both blocks lie inside one and the same sequence.
    ranked = torch.where(document < 0, len(lengths), document).view(-1, FLEX_BLOCK_SIZE)  # (blocks, 128)
    first, last = ranked[:, 0], ranked[:, -1]
    real = first < len(lengths)  # blocks holding at least one real token
    overlap = (first[:, None] <= last[None, :]) & (first[None, :] <= last[:, None]) & real[:, None] & real[None, :]
    inside = (first == last) & real
    full = overlap & inside[:, None] & inside[None, :] & (first[:, None] == first[None, :])
    partial = overlap & ~full

    def kv_blocks(tiles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        counts = tiles.sum(-1, dtype=torch.int32)[None, None]  # (1, 1, query blocks)
        indices = torch.argsort((~tiles).to(torch.int8), dim=-1, stable=True).to(torch.int32)[None, None]
        return counts, indices  # the tiles' key blocks first, in order

    def document_mask(batch, head, query_index, key_index):
        return (document[query_index] == document[key_index]) & (document[query_index] >= 0)

    block_mask = BlockMask.from_kv_blocks(
        *kv_blocks(partial),
        *kv_blocks(full),
        BLOCK_SIZE=FLEX_BLOCK_SIZE,
        mask_mod=document_mask,
        seq_lengths=(bucket, bucket),
    )
    return FlexLayout(document=document, block_mask=block_mask, total_tokens=total, bucket=bucket)


@cache
def compiled_flex_attention():
    """`flex_attention` compiled once for the process; static shapes, so one graph per token bucket."""
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False)


def flex_attention_packed(
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
    """The packed kernel of `attn_implementation="flex_attention"`: all sequences in one call per layer.

    `query`, `key`, `value` are (1, heads, total_tokens, head_dim); returns the context (1, total_tokens, heads,
    head_dim). FlexAttention, adding `-slope_h * |i - j|` to the scores when `alibi_slopes` is given (within a
    sequence, distances in the packed batch are the sequence's own).

    Example:
        >>> packed = PackedBatch.from_attention_mask(torch.tensor([[1, 1, 1], [1, 1, 0]]), alibi_slopes=[0.5, 0.25])
        >>> query = key = value = torch.randn(1, 2, packed.total_tokens, 4)
        >>> context, _ = flex_attention_packed(None, query, key, value, None, packed_batch=packed)  # doctest: +SKIP
        >>> context.shape  # doctest: +SKIP
        torch.Size([1, 5, 2, 4])
    """
    scaling = scaling or query.shape[-1] ** -0.5
    layout = flex_layout(packed_batch)
    score_mod = None
    if alibi_slopes is not None:

        def score_mod(score, batch, head, query_index, key_index):
            return score - alibi_slopes[head] * (query_index - key_index).abs()

    padding = (0, 0, 0, layout.bucket - layout.total_tokens)
    query, key, value = (F.pad(tensor, padding) for tensor in (query, key, value))  # (1, heads, bucket, dim)
    with recompile_limit(MAX_BUCKETS):
        context = compiled_flex_attention()(
            query, key, value, score_mod=score_mod, block_mask=layout.block_mask, scale=scaling
        )  # (1, heads, bucket, head_dim)
    return context[:, :, : layout.total_tokens].transpose(1, 2), None


def varlen_available() -> bool:
    """Whether this PyTorch has `varlen_attn` (it runs on CUDA, in fp16 or bf16)."""
    try:
        from torch.nn.attention.varlen import varlen_attn  # noqa: F401
    except ImportError:
        return False
    return True


def varlen_attention_packed(
    module: nn.Module | None,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: None,
    dropout: float = 0.0,
    scaling: float | None = None,
    *,
    packed_batch: PackedBatch,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    """PyTorch's variable-length flash attention over all sequences at once; no position bias, no dropout.

    `query`, `key`, `value` are (1, heads, total_tokens, head_dim); returns (1, total_tokens, heads, head_dim).
    """
    from torch.nn.attention.varlen import varlen_attn

    offsets, longest = packed_batch.cu_seqlens, packed_batch.max_seqlen
    query, key, value = (tensor[0].transpose(0, 1) for tensor in (query, key, value))  # (total, heads, dim)
    context = varlen_attn(query, key, value, offsets, offsets, longest, longest, scale=scaling)
    return context[None], None
