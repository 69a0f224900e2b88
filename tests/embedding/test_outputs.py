"""What `embed` writes and returns (`multimolecule.embedding.outputs`): streamed output equal to in memory, in
every format."""

from __future__ import annotations

import torch

from multimolecule import api

from ..helpers import random_records, read_safetensors


def test_streamed_output_equals_memory_and_budget_does_not_change_results(tmp_path):
    records = random_records(5, 1)
    in_memory = api.embed(records, per_base=True, max_tokens=2048)
    small_budget = api.embed(records, per_base=True, max_tokens=128)  # one window per batch
    streamed = api.embed(records, output=tmp_path / "out.safetensors", per_base=True)
    torch.testing.assert_close(small_budget.embeddings, in_memory.embeddings, atol=1e-5, rtol=1e-5)
    assert torch.equal(streamed.embeddings, in_memory.embeddings)
    for index in range(len(records)):
        assert torch.equal(streamed.per_base[index], in_memory.per_base[index])  # read back from the file
    for suffix in (".npz", ".npy"):  # per-sequence only, in the other formats
        written = api.embed(records, output=tmp_path / f"out{suffix}", max_tokens=2048)
        plain = api.embed(records, max_tokens=2048)
        assert torch.equal(written.embeddings, plain.embeddings)
    metadata, tensors = read_safetensors(tmp_path / "out.safetensors")
    assert metadata["stride_tokens"] == str(int(metadata["window_tokens"]) // 2 - 1)  # per-base: half the body
    assert sorted(tensors) == ["embeddings", *sorted(f"per_base.{i}" for i in range(5))]
