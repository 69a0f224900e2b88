"""Padding-free ("packed") batches: the real tokens of every sequence side by side, no padding computed.

A padded `(batch, length)` batch with its `attention_mask` becomes one row of `total_tokens` real tokens:
sequence 0, then sequence 1, and so on. Embeddings, Linear layers, LayerNorms and feed-forward layers are
per-token, so they run on the packed `(1, total_tokens, hidden)` tensor unchanged; only attention must know
where each sequence starts, and `PackedBatch` tells it (`cu_seqlens`, as flash-attn's varlen kernels want
it, and runs of equal-length sequences for the CPU kernels). Outputs are padded back with `unpack`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import torch
from transformers.utils import logging

logger = logging.get_logger(__name__)

# Attention over a long sequence is computed for this many query rows at a time, so that the scores and
# the ALiBi bias block, (heads, rows, length), grow linearly with the length instead of quadratically.
DEFAULT_QUERY_CHUNK_SIZE = 1024


class SequenceRun(NamedTuple):
    """`count` consecutive sequences of the same `length`, starting at packed token `start`."""

    start: int
    count: int
    length: int


@dataclass
class PackedBatch:
    """Where the real tokens of a padded batch lie once packed side by side, and what attention needs to know.

    Args:
        indices: (total_tokens,) positions of the real tokens in the flattened `(batch * length)` batch.
        cu_seqlens: (batch + 1,) int32 offsets of each sequence in the packed tokens.
        max_seqlen: Length of the longest sequence.
        runs: Consecutive sequences of equal length, attended to together on CPU.
        batch_size: Rows of the padded batch.
        seq_length: Columns of the padded batch.
        alibi_slopes: (heads,) fp32 ALiBi slopes when attention adds the bias `-slope * |i - j|`.
        query_chunk_size: Query rows per attention block of the kernels that run run by run (`config.query_chunk_size`).
        cache: Values built on first use and shared by every layer of one forward (ALiBi biases, FlexAttention's
            block mask).

    Example:
        >>> mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
        >>> packed = PackedBatch.from_attention_mask(mask)
        >>> packed.cu_seqlens.tolist(), packed.max_seqlen, packed.position_ids.tolist()
        ([0, 3, 5], 3, [[0, 1, 2, 0, 1]])
        >>> input_ids = packed.pack(torch.tensor([[5, 6, 7], [8, 9, 3]]))  # (1, total_tokens)
        >>> input_ids.tolist()
        [[5, 6, 7, 8, 9]]
        >>> packed.unpack(input_ids[..., None].float())[..., 0].tolist()  # padding comes back as zeros
        [[5.0, 6.0, 7.0], [8.0, 9.0, 0.0]]
    """

    indices: torch.Tensor
    cu_seqlens: torch.Tensor
    max_seqlen: int
    runs: tuple[SequenceRun, ...]
    batch_size: int
    seq_length: int
    alibi_slopes: torch.Tensor | None = None
    query_chunk_size: int = DEFAULT_QUERY_CHUNK_SIZE
    cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_attention_mask(
        cls,
        attention_mask: torch.Tensor,
        alibi_slopes: list[float] | None = None,
        query_chunk_size: int = DEFAULT_QUERY_CHUNK_SIZE,
    ) -> PackedBatch:
        """Pack the tokens where `attention_mask` (batch, length) is 1, in order; padding may be left or right."""
        batch_size, seq_length = attention_mask.shape
        mask = attention_mask.bool()
        lengths = mask.sum(dim=1, dtype=torch.int32)  # (batch,)
        cu_seqlens = torch.nn.functional.pad(lengths.cumsum(0, dtype=torch.int32), (1, 0))  # (batch + 1,)
        length_list = lengths.tolist()
        runs, start = [], 0
        for length in length_list:
            if runs and runs[-1].length == length:
                runs[-1] = runs[-1]._replace(count=runs[-1].count + 1)
            elif length:
                runs.append(SequenceRun(start, 1, length))
            start += length
        slopes = None
        if alibi_slopes is not None:
            slopes = torch.tensor(alibi_slopes, dtype=torch.float32, device=attention_mask.device)
        return cls(
            indices=mask.flatten().nonzero().squeeze(1),
            cu_seqlens=cu_seqlens,
            max_seqlen=max(length_list, default=0),
            runs=tuple(runs),
            batch_size=batch_size,
            seq_length=seq_length,
            alibi_slopes=slopes,
            query_chunk_size=query_chunk_size,
        )

    @property
    def total_tokens(self) -> int:
        return self.indices.numel()

    @property
    def position_ids(self) -> torch.Tensor:
        """(1, total_tokens) position of each token in its own sequence, from 0; for rotary embeddings."""
        sequence_starts = self.cu_seqlens[:-1].long()  # (batch,)
        lengths = self.cu_seqlens.diff().long()
        token_positions = torch.arange(self.total_tokens, device=self.indices.device)
        return (token_positions - sequence_starts.repeat_interleave(lengths))[None]

    def pack(self, padded: torch.Tensor | None) -> torch.Tensor | None:
        """(batch, length, ...) -> (1, total_tokens, ...); `None` stays `None`."""
        if padded is None:
            return None
        return padded.flatten(0, 1)[self.indices][None]

    def unpack(self, packed: torch.Tensor) -> torch.Tensor:
        """(1, total_tokens, ...) -> (batch, length, ...), zeros at padding."""
        trailing = packed.shape[2:]
        padded = packed.new_zeros(self.batch_size * self.seq_length, *trailing)
        return padded.index_copy(0, self.indices, packed[0]).view(self.batch_size, self.seq_length, *trailing)

    def kernel_kwargs(self) -> dict:
        """The keywords a packed attention kernel receives (see `multimolecule.modules.attention`)."""
        return {
            "cu_seq_lens_q": self.cu_seqlens,
            "cu_seq_lens_k": self.cu_seqlens,
            "max_length_q": self.max_seqlen,
            "max_length_k": self.max_seqlen,
            "alibi_slopes": self.alibi_slopes,
            "packed_batch": self,
        }


def is_tracing() -> bool:
    """Whether `torch.compile` or `torch.export` is tracing the model: then shapes are symbolic, and nothing may
    read a tensor's values (packing does) or branch on a length.

    Example:
        >>> is_tracing()
        False
    """
    return torch.compiler.is_compiling() or torch.compiler.is_exporting()


def warn_past_trained_length(seq_length: int, trained_length: int, model_name: str) -> None:
    """Warn (once per process) that a model runs on inputs longer than those it was trained on.

    Example:
        >>> warn_past_trained_length(500, 1000, "Nucleotide Transformer")  # shorter: silent
    """
    if not is_tracing() and seq_length > trained_length:  # no guard on the length: it stays dynamic in export
        logger.warning_once(
            f"{model_name} was trained on sequences of at most {trained_length} tokens; longer inputs run, "
            "but the quality of its outputs past that length has not been measured."
        )
