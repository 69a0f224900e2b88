"""Base resolution: which token covers each base of a batch, and the nucleotide each base is.

A token covers `config.token_lengths[id]` bases (a 6-mer six, a BPE token as many as it spells, special tokens
none, `<unk>` and `<mask>` one); `config.token_bases` holds the bases each token id spells. So a 16-base text
gives 16 rows however many tokens it became, and the mapping is computed from `input_ids` alone.

Run eagerly, `locate_bases` gives as many rows as the longest sequence has bases, a number read from the ids'
values. Traced by `torch.export` or `torch.compile`, shapes may depend on the input's shape only:
`locate_base_slots` gives every token as many rows as the vocabulary's longest token, the real bases first in the
same order, then rows of padding (`mask` is False there).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import torch

# The nucleotides a base embedding knows; N also stands for any base the input does not name (<unk>, <mask>).
NUCLEOTIDES = "ACGTN"


class BaseLocations(NamedTuple):
    """Where each base of a batch comes from: its token, its offset in that token, and its row in the output.

    All but `mask` are (total bases,) tensors over the real bases of the batch, in order (`locate_base_slots`:
    over every slot, the slots of no base at `position == mask.shape[1]`, a row `scatter_bases` drops).
    """

    token: torch.Tensor  # index into the flattened (batch * tokens) tokens
    offset: torch.Tensor  # offset of the base inside its token, from 0
    sequence: torch.Tensor  # batch index of the base
    position: torch.Tensor  # index of the base in its sequence
    mask: torch.Tensor  # (batch, bases), True where a row is a real base


def locate_bases(input_ids: torch.Tensor, attention_mask: torch.Tensor, token_lengths: torch.Tensor) -> BaseLocations:
    """Map every base of a batch to the token that covers it.

    Args:
        input_ids: (batch, tokens).
        attention_mask: (batch, tokens), 1 for tokens and 0 for padding.
        token_lengths: (vocab_size,) bases covered by each token id.

    Example:
        >>> ids, mask, lengths = torch.tensor([[0, 1, 2]]), torch.ones(1, 3), torch.tensor([0, 3, 1])
        >>> located = locate_bases(ids, mask, lengths)
        >>> located.token.tolist(), located.offset.tolist(), located.mask.tolist()
        ([1, 1, 1, 2], [0, 1, 2, 0], [[True, True, True, True]])
    """
    batch_size, seq_length = input_ids.shape
    lengths = token_lengths.to(input_ids.device)[input_ids] * attention_mask.to(torch.long)  # (batch, tokens)
    flat_lengths = lengths.flatten()
    token = torch.repeat_interleave(torch.arange(batch_size * seq_length, device=input_ids.device), flat_lengths)
    first_base_of_token = flat_lengths.cumsum(0) - flat_lengths  # (batch * tokens,) in the flattened bases
    base_index = torch.arange(token.numel(), device=input_ids.device)
    sequence = token // seq_length
    bases_per_sequence = lengths.sum(dim=1)  # (batch,)
    first_base_of_sequence = bases_per_sequence.cumsum(0) - bases_per_sequence
    max_bases = int(bases_per_sequence.max()) if batch_size else 0
    mask = torch.arange(max_bases, device=input_ids.device)[None, :] < bases_per_sequence[:, None]
    return BaseLocations(
        token=token,
        offset=base_index - first_base_of_token[token],
        sequence=sequence,
        position=base_index - first_base_of_sequence[sequence],
        mask=mask,
    )


def locate_base_slots(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, token_lengths: torch.Tensor, max_token_length: int
) -> BaseLocations:
    """`locate_bases` with shapes that depend on the input's shape only, as `torch.export` and `torch.compile` need:
    each token has `max_token_length` slots, those past its length fall on the row `scatter_bases` drops, and the
    output has tokens * max_token_length rows, the real bases first (as `locate_bases` places them).

    Example:
        >>> ids, mask, lengths = torch.tensor([[0, 1, 2]]), torch.ones(1, 3), torch.tensor([0, 3, 1])
        >>> located = locate_base_slots(ids, mask, lengths, max_token_length=3)
        >>> scatter_bases(located.token, located, fill=-1).tolist(), located.mask.sum().item()
        ([[1, 1, 1, 2, -1, -1, -1, -1, -1]], 4)
    """
    batch_size, seq_length = input_ids.shape
    device = input_ids.device
    lengths = token_lengths.to(device)[input_ids] * attention_mask.to(torch.long)  # (batch, tokens)
    first_base = lengths.cumsum(dim=1) - lengths  # (batch, tokens), in the token's sequence
    offset = torch.arange(max_token_length, device=device)  # (slots,)
    is_base = offset < lengths[..., None]  # (batch, tokens, slots)
    num_rows = seq_length * max_token_length
    position = torch.where(is_base, first_base[..., None] + offset, num_rows)  # (batch, tokens, slots)
    token = torch.arange(batch_size * seq_length, device=device).view(batch_size, seq_length, 1).expand_as(is_base)
    return BaseLocations(
        token=token.flatten(),
        offset=offset.expand_as(is_base).flatten(),
        sequence=token.flatten() // seq_length,
        position=position.flatten(),
        mask=torch.arange(num_rows, device=device)[None, :] < lengths.sum(dim=1, keepdim=True),
    )


def expand_to_bases(
    hidden_states: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Repeat each token's vector once per base it covers.

    Args:
        hidden_states: (batch, tokens, hidden).
        input_ids: (batch, tokens).
        attention_mask: (batch, tokens), 1 for tokens and 0 for padding.
        token_lengths: (vocab_size,) bases covered by each token id.

    Returns:
        `base_states` (batch, bases, hidden), zero past each sequence's end, and `base_mask` (batch, bases).

    Example:
        >>> hidden = torch.arange(3.0).view(1, 3, 1)
        >>> ids, mask, lengths = torch.tensor([[0, 1, 2]]), torch.ones(1, 3), torch.tensor([0, 3, 1])
        >>> states, base_mask = expand_to_bases(hidden, ids, mask, lengths)
        >>> states.flatten().tolist(), base_mask.tolist()
        ([1.0, 1.0, 1.0, 2.0], [[True, True, True, True]])
    """
    located = locate_bases(input_ids, attention_mask, token_lengths)
    return scatter_bases(hidden_states.flatten(0, 1)[located.token], located), located.mask


def scatter_bases(values: torch.Tensor, located: BaseLocations, fill: float = 0) -> torch.Tensor:
    """(total bases, ...) values of the located bases -> (batch, bases, ...), `fill` past each sequence's end."""
    batch_size, num_bases = located.mask.shape
    output = values.new_full((batch_size, num_bases + 1, *values.shape[1:]), fill)  # + the row of no base
    output[located.sequence, located.position] = values
    return output[:, :num_bases]


@functools.lru_cache(maxsize=8)
def _nucleotide_table(token_bases: tuple[str, ...], token_lengths: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    if len(token_bases) != len(token_lengths) or any(map(lambda b, n: len(b) != n, token_bases, token_lengths)):
        raise ValueError(
            "config.token_bases does not agree with config.token_lengths: each token must spell as many bases as "
            "it covers; set both from the tokenizer (`tokenizer.token_bases`, `tokenizer.token_lengths`)"
        )
    codes = np.full(256, NUCLEOTIDES.index("N"), dtype=np.int64)
    for code, nucleotide in enumerate(NUCLEOTIDES[:4]):
        codes[ord(nucleotide)] = code
    spelled = "".join(token_bases).upper().encode("ascii", errors="replace")
    nucleotides = codes[np.frombuffer(spelled, dtype=np.uint8)]  # (sum of token lengths,)
    lengths = np.array(token_lengths, dtype=np.int64)
    return nucleotides, np.cumsum(lengths) - lengths


@torch.compiler.assume_constant_result  # torch.compile takes the tables as constants: it cannot trace numpy
def _nucleotide_constants(
    token_bases: tuple[str, ...], token_lengths: tuple[int, ...]
) -> tuple[torch.Tensor, torch.Tensor]:
    nucleotides, first_base = _nucleotide_table(token_bases, token_lengths)  # numpy: tracing leaves the cache real
    return torch.from_numpy(nucleotides), torch.from_numpy(first_base)


def base_nucleotides(
    input_ids: torch.Tensor, located: BaseLocations, token_bases: list[str], token_lengths: list[int]
) -> torch.Tensor:
    """(total bases,) index in `NUCLEOTIDES` of every base of `located`, read from the token ids.

    Example:
        >>> ids, mask, lengths = torch.tensor([[0, 1, 2]]), torch.ones(1, 3), [0, 3, 1]
        >>> located = locate_bases(ids, mask, torch.tensor(lengths))
        >>> base_nucleotides(ids, located, ["", "GAT", "N"], lengths).tolist()  # G A T N
        [2, 0, 3, 4]
    """
    nucleotides, first_base = _nucleotide_constants(tuple(token_bases), tuple(token_lengths))
    nucleotides, first_base = nucleotides.to(input_ids.device), first_base.to(input_ids.device)
    index = first_base[input_ids.flatten()[located.token]] + located.offset  # slots of no base may run past the end
    return nucleotides[index.clamp(max=len(nucleotides) - 1)]


def max_token_length(config) -> int:
    """The most bases one token covers, from `config.token_lengths` (1 while it is unset)."""
    return max(getattr(config, "token_lengths", None) or [1])
