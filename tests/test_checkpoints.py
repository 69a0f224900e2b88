"""`info`'s reading of a checkpoint without loading it: parameters from safetensors headers (sharded or not) or
`pytorch_model.bin` (tied tensors once), the trained length and what a folder that is not ours is called; and
Hub ids found in the local cache."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from multimolecule.checkpoints import count_parameters, info, local_directory, safetensors_parameters
from multimolecule.utils import InputError

BERT = {"model_type": "bert", "architectures": ["BertForMaskedLM"], "vocab_size": 30, "max_position_embeddings": 64}


def test_safetensors_parameters_come_from_the_header(tmp_path):
    save_file({"weight": torch.zeros(3, 4), "bias": torch.zeros(5), "scalar": torch.tensor(1.0)}, tmp_path / "a")
    assert safetensors_parameters(tmp_path / "a") == 3 * 4 + 5 + 1
    save_file({}, tmp_path / "empty")
    assert safetensors_parameters(tmp_path / "empty") == 0
    (tmp_path / "lying").write_bytes((10**6).to_bytes(8, "little") + b"{}")
    with pytest.raises(InputError, match="lying is not a readable safetensors file .*its header says 1,000,000 bytes"):
        safetensors_parameters(tmp_path / "lying")
    (tmp_path / "garbage").write_bytes((4).to_bytes(8, "little") + b"nope")
    with pytest.raises(InputError, match="garbage is not a readable safetensors file"):
        safetensors_parameters(tmp_path / "garbage")


def test_sharded_weights_count_the_shards_the_index_lists(tmp_path):
    save_file({"a": torch.zeros(10, 10)}, tmp_path / "model-00001-of-00002.safetensors")
    save_file({"b": torch.zeros(7)}, tmp_path / "model-00002-of-00002.safetensors")
    save_file({"c": torch.zeros(1000)}, tmp_path / "unlisted.safetensors")
    index = {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": index}))
    assert count_parameters(tmp_path) == 107
    (tmp_path / "model-00002-of-00002.safetensors").unlink()  # a missing shard: nothing from_pretrained would load
    assert count_parameters(tmp_path) is None


def test_pytorch_weights_count_tied_tensors_once(tmp_path):
    shared = torch.zeros(6, 4)
    torch.save({"embeddings": shared, "decoder": shared, "bias": torch.zeros(6)}, tmp_path / "pytorch_model.bin")
    assert count_parameters(tmp_path) == 24 + 6
    save_file({"x": torch.zeros(2)}, tmp_path / "model.safetensors")  # what from_pretrained prefers
    assert count_parameters(tmp_path) == 2


def test_a_folder_of_another_model_is_described_not_loaded(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({**BERT, "torch_dtype": "float16"}))
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"model_max_length": int(1e30)}))  # "no limit"
    details = info(str(tmp_path))
    assert details["format"] == "not a multimolecule checkpoint" and details["model_type"] == "bert"
    assert details["architecture"] == "BertForMaskedLM" and details["vocab_size"] == 30
    assert details["trained_length"] == 64 and details["parameters"] is None and details["dtype"] == "float16"
    assert details["position_embedding"] is None and "held_out_accuracy" not in details
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 100}))
    assert info(str(tmp_path))["trained_length"] == 100
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(InputError, match="config.json is missing or not valid JSON"):
        info(str(tmp_path))


def test_hub_ids_are_read_from_the_local_cache(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(InputError, match=r"model not found: someone/nothing \(no config.json in the cache"):
        local_directory("someone/nothing")
    repository = tmp_path / "models--someone--bert"
    snapshot = repository / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (repository / "refs").mkdir()
    (repository / "refs" / "main").write_text("0" * 40)
    (snapshot / "config.json").write_text(json.dumps(BERT))
    assert local_directory("someone/bert") == str(snapshot)
    assert info("someone/bert")["path"] == str(snapshot) and info("someone/bert")["trained_length"] == 64
