"""Token-budget batching: group inputs of different lengths so that each batch holds at most `max_tokens` tokens.

Inputs are taken longest first, and a batch is closed when one more input would make `count * longest` (its
size once padded) exceed the budget. Memory is therefore bounded by the budget, not by the longest input times a
batch size, and the first batch is the largest one (a job that does not fit fails at once, not at the end).
An input longer than the budget gets a batch of its own. `map_batches` runs a function batch by batch and
returns its outputs in the input order; `pad` makes the padded tensors of a batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import torch

Item = TypeVar("Item")
Output = TypeVar("Output")


def token_budget_batches(lengths: Sequence[int], max_tokens: int, max_batch_size: int | None = None) -> list[list[int]]:
    """Indices of `lengths` grouped into batches, longest first, each of at most `max_tokens` padded tokens
    (`count * longest`) and `max_batch_size` items. Equal lengths keep their input order.

    Example:
        >>> token_budget_batches([3, 10, 4, 4, 9], max_tokens=12)
        [[1], [4], [2, 3, 0]]
        >>> token_budget_batches([3, 10, 4, 4, 9], max_tokens=12, max_batch_size=2)
        [[1], [4], [2, 3], [0]]
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    if max_batch_size is not None and max_batch_size < 1:
        raise ValueError(f"max_batch_size must be at least 1, got {max_batch_size}")
    order = sorted(range(len(lengths)), key=lambda index: -lengths[index])
    batches: list[list[int]] = []
    for index in order:
        if batches:
            batch = batches[-1]
            longest = lengths[batch[0]]  # longest first: the batch's first item sets its padded length
            fits = (len(batch) + 1) * longest <= max_tokens
            if fits and (max_batch_size is None or len(batch) < max_batch_size):
                batch.append(index)
                continue
        batches.append([index])
    return batches


def map_batches(
    function: Callable[[list[Item]], Sequence[Output]],
    items: Sequence[Item],
    lengths: Sequence[int],
    max_tokens: int,
    max_batch_size: int | None = None,
) -> list[Output]:
    """`function(batch)` on the `token_budget_batches` of `items`; one output per item, in the input order.

    `function` takes a list of items and returns one output per item, in the batch's order.

    Example:
        >>> words = ["a", "ccc", "bb", "dddd"]
        >>> map_batches(lambda batch: [word.upper() for word in batch], words, [len(w) for w in words], 6)
        ['A', 'CCC', 'BB', 'DDDD']
    """
    outputs: list = [None] * len(items)
    for batch in token_budget_batches(lengths, max_tokens, max_batch_size):
        results = function([items[index] for index in batch])
        if len(results) != len(batch):
            raise ValueError(f"the batch function returned {len(results)} outputs for {len(batch)} items")
        for index, result in zip(batch, results):
            outputs[index] = result
    return outputs


# Token budget of a forward pass (padding included) when not given: CPU (and other devices), CUDA.
DEFAULT_MAX_TOKENS = {"cpu": 1024, "cuda": 32768}


def default_max_tokens(device: torch.device) -> int:
    """The token budget of a forward pass on `device` when none is given: 32768 on CUDA GPUs, 1024 elsewhere.

    Example:
        >>> default_max_tokens(torch.device("cpu"))
        1024
    """
    return DEFAULT_MAX_TOKENS.get(device.type, DEFAULT_MAX_TOKENS["cpu"])


def pad(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad lists of ids: (input_ids, attention_mask), both (len(rows), longest).

    Example:
        >>> pad([[5, 6, 7], [8]], pad_id=0)
        (tensor([[5, 6, 7],
                [8, 0, 0]]), tensor([[1, 1, 1],
                [1, 0, 0]]))
    """
    longest = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), longest), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), longest), dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        attention_mask[i, : len(row)] = 1
    return input_ids, attention_mask
