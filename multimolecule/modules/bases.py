"""Base resolution: which token covers each base of a batch, and the nucleotide each base is.

A token covers `config.token_lengths[id]` bases (a 6-mer six, a BPE token as many as it spells, special tokens
none, `<unk>` and `<mask>` one); `config.token_bases` holds the bases each token id spells. So a 16-base text
gives 16 rows however many tokens it became, and the mapping is computed from `input_ids` alone.
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

    All but `mask` are (total bases,) tensors over the real bases of the batch, in order.
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
    """(total bases, ...) values of the real bases -> (batch, bases, ...), `fill` past each sequence's end."""
    output = values.new_full((*located.mask.shape, *values.shape[1:]), fill)
    output[located.sequence, located.position] = values
    return output


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
    nucleotides, first_base = _nucleotide_table(tuple(token_bases), tuple(token_lengths))
    nucleotides = torch.from_numpy(nucleotides).to(input_ids.device)
    first_base = torch.from_numpy(first_base).to(input_ids.device)
    return nucleotides[first_base[input_ids.flatten()[located.token]] + located.offset]


def max_token_length(config) -> int:
    """The most bases one token covers, from `config.token_lengths` (1 while it is unset)."""
    return max(getattr(config, "token_lengths", None) or [1])
