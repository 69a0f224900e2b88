"""Base resolution (`multimolecule.modules.bases`): which token covers each base and which nucleotide it is, on a
batch built by hand, with shapes fixed in advance (slots) and against a plain loop."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from multimolecule.modules import expand_to_bases
from multimolecule.modules.bases import (
    NUCLEOTIDES,
    base_nucleotides,
    locate_base_slots,
    locate_bases,
    max_token_length,
    scatter_bases,
)


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


# A vocabulary of <cls> <eos> <pad> and three tokens spelling GAT, c and NA; a batch with padding, and in the second
# row two real-looking tokens the attention mask marks as padding.
TOKEN_BASES = ["", "", "", "GAT", "c", "NA"]
LENGTHS = torch.tensor([len(bases) for bases in TOKEN_BASES])
IDS = torch.tensor([[0, 3, 4, 1, 2], [0, 5, 3, 4, 4]])
MASK = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]])


def test_each_base_is_located_in_its_token():
    located = locate_bases(IDS, MASK, LENGTHS)
    assert located.token.tolist() == [1, 1, 1, 2, 6, 6, 7, 7, 7]  # in the flattened (batch * tokens) tokens
    assert located.offset.tolist() == [0, 1, 2, 0, 0, 1, 0, 1, 2]
    assert located.sequence.tolist() == [0, 0, 0, 0, 1, 1, 1, 1, 1]
    assert located.position.tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 4]
    assert located.mask.tolist() == [[True, True, True, True, False], [True] * 5]
    nucleotides = base_nucleotides(IDS, located, TOKEN_BASES, LENGTHS.tolist())
    assert "".join(NUCLEOTIDES[i] for i in nucleotides) == "GATC" + "NAGAT"  # lower case read as upper
    assert scatter_bases(located.token, located, fill=-1).tolist() == [[1, 1, 1, 2, -1], [6, 6, 7, 7, 7]]


def test_slots_hold_the_same_bases_in_the_same_rows():
    located = locate_bases(IDS, MASK, LENGTHS)
    slots = locate_base_slots(IDS, MASK, LENGTHS, max_token_length=3)
    assert slots.mask.shape == (2, 15) and slots.mask.sum(1).tolist() == [4, 5]
    by_slot = scatter_bases(slots.token, slots, fill=-1)
    assert by_slot[:, :5].tolist() == scatter_bases(located.token, located, fill=-1).tolist()
    assert (by_slot[:, 5:] == -1).all()  # the rows of no base
    nucleotides = base_nucleotides(IDS, slots, TOKEN_BASES, LENGTHS.tolist())
    expected = base_nucleotides(IDS, located, TOKEN_BASES, LENGTHS.tolist())
    assert scatter_bases(nucleotides, slots)[slots.mask].tolist() == expected.tolist()


def test_max_token_length_reads_the_config():
    assert max_token_length(SimpleNamespace(token_lengths=[0, 6, 1, 2])) == 6
    assert max_token_length(SimpleNamespace(token_lengths=None)) == max_token_length(SimpleNamespace()) == 1
