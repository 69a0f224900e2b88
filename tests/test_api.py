"""`multimolecule.api` as Python callers meet it: option checks as exceptions, a sequence or a file name,
ids kept, `info` on damaged checkpoints."""

from __future__ import annotations

import pytest

from multimolecule import api
from multimolecule.demo import demo_model_path
from multimolecule.utils import InputError

from .helpers import MASKED


def test_api_checks_options():
    with pytest.raises(InputError, match="top_k must be an integer of at least 1, got 0"):
        api.fill_mask(MASKED, top_k=0)
    with pytest.raises(InputError, match="batch_size must be an integer of at least 1, got -1"):
        api.embed(["ACGT"], batch_size=-1)
    with pytest.raises(InputError, match="device 'cuda' is not available on this machine; available: cpu"):
        api.embed(["ACGT"], device="cuda")


def test_api_inputs(tmp_path):
    assert api.embed("ACGTACGTAGCTAGCT").embeddings.shape[0] == 1  # a sequence, not a file name
    with pytest.raises(InputError, match="input file not found: sequences.fasta"):
        api.embed("sequences.fasta")
    (result,) = api.fill_mask({"my_gene": MASKED}, top_k=2)
    assert result[0]["id"] == "my_gene"


def test_info_counts_the_loaded_weights_and_names_a_damaged_file(tmp_path):
    demo = demo_model_path("dnabert2-demo")
    copy = tmp_path / "model"
    copy.mkdir()
    for file in demo.iterdir():
        (copy / file.name).write_bytes(file.read_bytes())
    expected = api.info(demo)["parameters"]
    (copy / "optimizer_copy.safetensors").write_bytes((demo / "model.safetensors").read_bytes())
    assert api.info(copy)["parameters"] == expected  # a stray safetensors file is not counted
    weights = (demo / "model.safetensors").read_bytes()
    (copy / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    with pytest.raises(InputError, match=r"model\.safetensors is not a readable safetensors file \(truncated"):
        api.info(copy)
