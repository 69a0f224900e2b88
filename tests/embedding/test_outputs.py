"""What `embed` writes and returns (`multimolecule.embedding.outputs`): streamed output equal to in memory, in
every format; files written record by record equal to files written whole; per-base vectors read back when
indexed; outputs refused before any work."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from multimolecule import api
from multimolecule.embedding import Embeddings, EmbeddingWriter, StoredPerBase, check_embedding_output, stored_result
from multimolecule.utils import InputError

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


RESULT = Embeddings(
    ids=["a", "b", "c"],
    embeddings=torch.randn(3, 4, generator=torch.Generator().manual_seed(0)),
    per_base=[torch.randn(length, 4, generator=torch.Generator().manual_seed(length)) for length in (3, 1, 2)],
    metadata={"model": "nt-demo", "pooling": "mean"},
    lengths=[3, 1, 2],
)


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_written_record_by_record_in_any_order_equals_written_whole(tmp_path, suffix):
    whole = RESULT.save(tmp_path / f"whole{suffix}")
    streamed = tmp_path / f"streamed{suffix}"
    with EmbeddingWriter(streamed, RESULT.ids, RESULT.lengths, 4, True, RESULT.metadata) as writer:
        for index in (2, 0, 1):
            writer.write(index, RESULT.embeddings[index], RESULT.per_base[index])
    if suffix == ".safetensors":
        assert read_safetensors(streamed)[1].keys() == read_safetensors(whole)[1].keys()
        for key, tensor in read_safetensors(whole)[1].items():
            assert torch.equal(read_safetensors(streamed)[1][key], tensor), key
        metadata = read_safetensors(streamed)[0]
        assert metadata == read_safetensors(whole)[0] and json.loads(metadata["ids"]) == RESULT.ids
    else:
        with np.load(whole) as expected, np.load(streamed) as actual:
            assert sorted(actual.files) == sorted(expected.files)
            assert all(np.array_equal(actual[name], expected[name]) for name in expected.files)
            assert actual["ids"].tolist() == RESULT.ids


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_per_base_vectors_are_read_back_when_indexed(tmp_path, suffix):
    path = RESULT.save(tmp_path / f"out{suffix}")
    stored = stored_result(path, RESULT.ids, True, RESULT.metadata, RESULT.lengths)
    assert torch.equal(stored.embeddings, RESULT.embeddings)
    per_base = stored.per_base
    assert isinstance(per_base, StoredPerBase) and len(per_base) == 3
    assert torch.equal(per_base[-1], RESULT.per_base[2]) and torch.equal(per_base[0], RESULT.per_base[0])
    assert [tuple(t.shape) for t in per_base[1:]] == [(1, 4), (2, 4)]
    for index in (3, -4):
        with pytest.raises(IndexError):
            per_base[index]
    only_embeddings = Embeddings(RESULT.ids, RESULT.embeddings).save(tmp_path / "out.npy")
    assert torch.equal(stored_result(only_embeddings, RESULT.ids, False, {}, []).embeddings, RESULT.embeddings)


@pytest.mark.parametrize(
    "name, per_base, overwrite, message",
    [
        ("out.csv", False, False, "unsupported output {path}: use a .safetensors, .npz or .npy file name"),
        ("out.npy", True, False, "a .npy file holds one array: write per-base embeddings to .safetensors or .npz"),
        ("folder.safetensors", False, True, "output {path} is a directory"),
        ("existing.npz", False, False, "output exists: {path} (pass --overwrite, or overwrite=True, to replace it)"),
    ],
)
def test_outputs_that_cannot_be_written_are_refused_before_any_work(tmp_path, name, per_base, overwrite, message):
    (tmp_path / "folder.safetensors").mkdir()
    (tmp_path / "existing.npz").write_bytes(b"kept")
    path = tmp_path / name
    with pytest.raises(InputError) as error:
        check_embedding_output(path, per_base, overwrite)
    assert str(error.value) == message.format(path=path)
    check_embedding_output(tmp_path / "existing.npz", per_base=True, overwrite=True)  # replaced only when asked
