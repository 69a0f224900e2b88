"""Base resolution (`multimolecule.modules.bases`): which token covers each base, against a plain loop."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from multimolecule.modules import expand_to_bases


@settings(max_examples=200, deadline=None)
@given(
    data=st.data(),
    vocab=st.lists(st.integers(0, 7), min_size=1, max_size=12),
    shape=st.tuples(st.integers(0, 4), st.integers(0, 9)),
)
def test_expand_to_bases_matches_a_plain_loop(data, vocab, shape):
    """Any token lengths (0 for specials, several bases per token), any padding pattern, empty batches included."""
    batch_size, seq_length = shape
    lengths = torch.tensor(vocab)
    cells = st.lists(st.integers(0, len(vocab) - 1), min_size=batch_size * seq_length, max_size=batch_size * seq_length)
    ids = torch.tensor(data.draw(cells), dtype=torch.long).view(batch_size, seq_length)
    mask = (torch.tensor(data.draw(cells), dtype=torch.long) % 2).view(batch_size, seq_length)
    hidden = torch.randn(batch_size, seq_length, 2)
    states, base_mask = expand_to_bases(hidden, ids, mask, lengths)
    rows = [
        [hidden[b, t] for t in range(seq_length) if mask[b, t] for _ in range(int(lengths[ids[b, t]]))]
        for b in range(batch_size)
    ]
    assert base_mask.sum(1).tolist() == [len(row) for row in rows]
    assert states.shape[1] == max((len(row) for row in rows), default=0)
    for b, row in enumerate(rows):
        if row:
            torch.testing.assert_close(states[b, : len(row)], torch.stack(row), rtol=0, atol=0)
        assert not states[b, len(row) :].any()
