"""The DNABERT-2 converter: its output, and the one-line refusals of damaged or foreign checkpoints."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from multimolecule.models import ConversionError
from multimolecule.models.dnabert2.convert_checkpoint import convert_checkpoint

from ...helpers import fixture_dir


def test_converter_output(converted):
    config = json.loads((converted / "config.json").read_text())
    assert config["model_type"] == "dnabert2" and config["position_embedding_type"] == "alibi"
    keys = set(load_file(converted / "model.safetensors"))
    assert "model.encoder.layer.0.attention.self.query.weight" in keys
    assert "model.encoder.layer.1.mlp.gated_layers.weight" in keys
    assert not any("Wqkv" in key or "LayerNorm" in key for key in keys)


def test_converter_rejects_missing_tokenizer(broken_copy, tmp_path):
    (broken_copy / "tokenizer.json").unlink()
    with pytest.raises(ConversionError, match="tokenizer.json"):
        convert_checkpoint(broken_copy, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_converter_rejects_truncated_weights(broken_copy, tmp_path):
    weights = broken_copy / "pytorch_model.bin"
    weights.write_bytes(weights.read_bytes()[:10_000])
    with pytest.raises(ConversionError, match="truncated or corrupt"):
        convert_checkpoint(broken_copy, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_converter_lists_unknown_and_missing_tensors(broken_copy, tmp_path):
    state_dict = torch.load(broken_copy / "pytorch_model.bin", weights_only=True)
    state_dict["bert.extra.weight"] = torch.zeros(1)
    del state_dict["bert.encoder.layer.1.mlp.wo.bias"]
    (broken_copy / "pytorch_model.bin").unlink()
    save_file(
        {k: v.contiguous() for k, v in state_dict.items() if k != "cls.predictions.decoder.weight"},
        broken_copy / "model.safetensors",
    )
    with pytest.raises(ConversionError, match="bert.extra.weight"):
        convert_checkpoint(broken_copy, tmp_path / "out")
    del state_dict["bert.extra.weight"]
    save_file(
        {k: v.contiguous() for k, v in state_dict.items() if k != "cls.predictions.decoder.weight"},
        broken_copy / "model.safetensors",
    )
    with pytest.raises(ConversionError, match=r"unfilled: model\.encoder\.layer\.1\.mlp\.wo\.bias"):
        convert_checkpoint(broken_copy, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_converter_rejects_another_model(tmp_path):
    other = fixture_dir("nucleotide_transformer", "nt_v2_tiny_a")
    with pytest.raises(ConversionError):
        convert_checkpoint(other, tmp_path / "out")
    assert not (tmp_path / "out").exists()
