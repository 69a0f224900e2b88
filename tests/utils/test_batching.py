"""Token-budget batching: bounded memory, every item once, the input order restored."""

from __future__ import annotations

import random

import pytest

from multimolecule.utils.batching import map_batches, token_budget_batches


def test_token_budget_batches_bound_memory_and_keep_order():
    rng = random.Random(0)
    lengths = [rng.randint(1, 300) for _ in range(200)]
    batches = token_budget_batches(lengths, max_tokens=1000)
    assert sorted(index for batch in batches for index in batch) == list(range(200))
    assert all(len(batch) * max(lengths[i] for i in batch) <= 1000 for batch in batches)
    firsts = [lengths[batch[0]] for batch in batches]
    assert firsts == sorted(firsts, reverse=True)  # longest first
    assert len(batches) < 200 * 150 / 1000 * 1.5  # batches are filled, not one item each
    assert token_budget_batches([5000, 3], max_tokens=100) == [[0], [1]]  # too long for the budget: alone
    items = [f"item{i}" for i in range(200)]
    assert map_batches(lambda batch: [item.upper() for item in batch], items, lengths, 1000) == [
        item.upper() for item in items
    ]
    with pytest.raises(ValueError, match="max_tokens"):
        token_budget_batches(lengths, 0)
