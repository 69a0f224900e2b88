"""A packed (padding-free) batch: its layout read from the attention mask, and its one warning past the trained
length."""

from __future__ import annotations

import torch
from transformers.testing_utils import CaptureLogger

from multimolecule import NucleotideTransformerModel
from multimolecule.modules import packing
from multimolecule.modules.packing import PackedBatch

from ..helpers import tiny_model


def test_packed_batch_round_trip_and_runs():
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0], [0, 1, 1, 1]])
    packed = PackedBatch.from_attention_mask(mask)
    assert packed.cu_seqlens.tolist() == [0, 2, 4, 8, 8, 11]
    assert packed.cu_seqlens.dtype == torch.int32
    assert [tuple(run) for run in packed.runs] == [(0, 2, 2), (4, 1, 4), (8, 1, 3)]
    assert packed.position_ids.tolist() == [[0, 1, 0, 1, 0, 1, 2, 3, 0, 1, 2]]
    values = torch.arange(20.0).view(5, 4)
    assert torch.equal(packed.unpack(packed.pack(values)), values * mask)


def test_runs_past_the_trained_length_with_one_warning():
    model = tiny_model(NucleotideTransformerModel, "sdpa", trained_length=64)
    input_ids = torch.randint(6, 4107, (1, 100), generator=torch.Generator().manual_seed(2))
    input_ids[0, 0] = 3  # <cls>
    with torch.no_grad(), CaptureLogger(packing.logger) as captured:
        first = model(input_ids).last_hidden_state
        model(input_ids)
    assert first.shape == (1, 100, 32) and torch.isfinite(first).all()
    assert captured.out.count("trained on sequences of at most 64 tokens") == 1
