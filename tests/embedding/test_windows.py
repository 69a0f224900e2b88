"""Windows of long sequences (`multimolecule.embedding.windows`): window and stride, strand symmetry, sequences
longer than a window, and overlapping windows averaged as computed here window by window."""

from __future__ import annotations

import pytest
import torch

from multimolecule import api
from multimolecule.embedding import window_starts

from ..helpers import random_dna, random_records


def test_window_and_stride():
    sequence = random_records(1, 2)["r0"] * 3
    pooled = api.embed([sequence], window=32)
    assert pooled.metadata["stride_tokens"] == "30"  # per-sequence output: windows do not overlap
    overlapping = api.embed([sequence], window=32, stride=10)
    assert not torch.allclose(pooled.embeddings, overlapping.embeddings)
    with pytest.raises(api.InputError, match="stride"):
        api.embed([sequence], window=32, stride=31)


def test_embed_reverse_complement_is_strand_symmetric():
    sequence = random_dna(700, 3)  # longer than one window of the demo model
    forward = api.embed([sequence], per_base=True, reverse_complement=True)
    backward = api.embed([api.revcomp(sequence)], per_base=True, reverse_complement=True)
    torch.testing.assert_close(forward.embeddings, backward.embeddings, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(forward.per_base[0], backward.per_base[0].flip(0), atol=1e-4, rtol=1e-4)
    plain = api.embed([sequence], per_base=True)
    assert not torch.allclose(plain.embeddings, forward.embeddings)


def test_embed_windows_long_sequences():
    network, tokenizer = api.load_model(None, "cpu", None)
    window = api.trained_window(tokenizer, network.config)
    sequence = random_dna(window * 12, 4)  # many more tokens than one window
    assert len(tokenizer(sequence, add_special_tokens=False)["input_ids"]) > 2 * window
    result = api.embed([sequence, sequence[:50]], per_base=True)
    assert [tuple(x.shape) for x in result.per_base] == [
        (len(sequence), network.config.hidden_size),
        (50, network.config.hidden_size),
    ]
    # a short sequence is one window: per-base vectors are exactly its tokens' vectors
    ids = tokenizer(sequence[:50], return_tensors="pt")
    hidden = network.base_model(**ids).last_hidden_state[0, 1:-1]
    lengths = api.token_lengths(network, tokenizer)[ids["input_ids"][0, 1:-1]]
    torch.testing.assert_close(result.per_base[1], hidden.repeat_interleave(lengths, dim=0), atol=1e-5, rtol=1e-5)
    assert window_starts(10, 4, 2) == [0, 2, 4, 6]


@torch.no_grad()
def test_overlapping_windows_are_averaged_base_by_base():
    """A sequence of 23 tokens (20 six-mers, 3 single bases) in windows of <cls> and 8 tokens every 5 tokens,
    computed here window by window: per-base vectors are the mean over the windows covering each base, the
    sequence's vector the mean of the windows' mean over their tokens."""
    network, tokenizer = api.load_model("nt-demo", task="feature-extraction")
    sequence = random_dna(123, 7)
    ids = tokenizer(sequence, add_special_tokens=False)["input_ids"]
    lengths = api.token_lengths(network, tokenizer)[ids].tolist()
    assert len(ids) == 23 and lengths == [6] * 20 + [1] * 3
    sums, counts, pooled = torch.zeros(123, network.config.hidden_size), torch.zeros(123, 1), []
    for start in (0, 5, 10, 15):  # every 5 tokens, and the last window ends at the end
        window = ids[start : start + 8]
        states = network(input_ids=torch.tensor([[tokenizer.cls_token_id, *window]])).last_hidden_state[0, 1:]
        pooled.append(states.mean(0))
        first = sum(lengths[:start])
        covered = slice(first, first + sum(lengths[start : start + 8]))
        sums[covered] += states.repeat_interleave(torch.tensor(lengths[start : start + 8]), dim=0)
        counts[covered] += 1
    result = api.embed([sequence], model="nt-demo", per_base=True, window=9, stride=5)
    torch.testing.assert_close(result.per_base[0], sums / counts, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(result.embeddings[0], torch.stack(pooled).mean(0), atol=1e-5, rtol=1e-5)
