"""The NTv3 converter: what it writes, what it drops, what it refuses."""

from __future__ import annotations

import json
import shutil

import pytest

from multimolecule import api
from multimolecule.models import ConversionError
from multimolecule.models.ntv3.convert_checkpoint import convert_checkpoint, detect, rename


def test_detect_and_report(pre, post, converted, tmp_path):
    assert detect(pre) and detect(post) and not detect(converted["pre"])
    assert api.detect_model(pre) == "nucleotide_transformer_v3"
    report = convert_checkpoint(pre, tmp_path / "out")
    assert report.layout == "pre-trained"
    assert report.dropped == [f"core.transformer_blocks.{i}.sa_layer.rotary_embedding.inv_freq" for i in range(2)]
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["model_type"] == "nucleotide_transformer_v3" and config["hidden_size"] == 16
    assert config["architectures"] == ["NucleotideTransformerV3ForMaskedLM"]


def test_every_original_tensor_has_a_name(pre_facts):
    names = pre_facts["model_safetensors"]["keys"]
    renamed = [rename(name) for name in names if "rotary_embedding" not in name]
    assert None not in renamed and len(set(renamed)) == len(renamed)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"deconv_upsample_type": "conv_transpose"}, "only 'repeat\\+conv'"),
        ({"num_hidden_layers_head": 1}, "num_hidden_layers_head 1"),
        ({"attention_heads": 3}, "must equal embed_dim"),
        ({"model_type": "bert"}, "not an NTv3 config"),
    ],
)
def test_refuses_what_it_does_not_implement(pre, tmp_path, change, message):
    copy = tmp_path / "original"
    shutil.copytree(pre, copy)
    config = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(json.dumps({**config, **change}))
    with pytest.raises(ConversionError, match=message):
        convert_checkpoint(copy, tmp_path / "out")


def test_converted_directories_load_through_the_transformers_auto_classes(converted, pre_reference):
    import torch
    from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoTokenizer

    from multimolecule import NucleotideTransformerV3Model, NucleotideTransformerV3Tokenizer

    assert AutoConfig.from_pretrained(converted["post"]).species == ["human", "mouse"]
    assert isinstance(AutoTokenizer.from_pretrained(converted["pre"]), NucleotideTransformerV3Tokenizer)
    assert isinstance(AutoModel.from_pretrained(converted["pre"]), NucleotideTransformerV3Model)
    model = AutoModelForMaskedLM.from_pretrained(converted["pre"]).eval()
    with torch.no_grad():
        logits = model(pre_reference["input_ids"]).logits
    assert (logits - pre_reference["logits"]).abs().max() < 5e-4
