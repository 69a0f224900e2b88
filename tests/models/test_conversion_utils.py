"""What every converter shares (`multimolecule.models.conversion_utils`), on small state dicts and files made here:
renaming, tied and unused tensors, complete loading, reading weights and JSON, parameter trees read without running
code, the atomic output and the command line."""

from __future__ import annotations

import joblib
import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch import nn
from transformers import AutoTokenizer

from multimolecule import DnaBert2Config, DnaBert2ForMaskedLM
from multimolecule.demo import demo_model_path
from multimolecule.models.conversion_utils import (
    ConversionReport,
    atomic_directory,
    converter_main,
    drop_tied,
    load_converted,
    load_haiku_joblib,
    load_state_dict,
    read_json,
    rename,
    require_known,
    save_converted,
)
from multimolecule.utils.errors import ConversionError


def test_rename_takes_the_first_pattern_that_matches_at_the_start():
    renames = [(r"bert\.(\d+)\.", r"layer.\1."), (r"bert\.", "model."), (r"head\.", "lm_head.")]
    assert rename("bert.3.weight", renames) == "layer.3.weight"
    assert rename("bert.pooler.bias", renames) == "model.pooler.bias"
    assert rename("cls.head.bias", renames) is None  # `head.` is not at the start
    with pytest.raises(ConversionError, match="^checkpoint tensors this converter does not know: a, b$"):
        require_known(["b", "a"])
    require_known([])


def test_a_tied_tensor_is_dropped_only_when_it_equals_its_source():
    state_dict = {"embed": torch.arange(4.0), "decoder": torch.arange(4.0)}
    drop_tied(state_dict, "decoder", "embed")
    assert list(state_dict) == ["embed"]
    drop_tied(state_dict, "decoder", "embed")  # absent: nothing to check
    state_dict["decoder"] = torch.ones(4)
    with pytest.raises(ConversionError, match="^decoder differs from embed, but the model ties them$"):
        drop_tied(state_dict, "decoder", "embed")


def test_loading_needs_every_tensor_used_and_every_weight_filled():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    complete = {"0.weight": torch.ones(3, 2), "0.bias": torch.zeros(3), "1.weight": torch.full((1, 3), 2.0)}
    bad = {**complete, "0.bias": torch.zeros(4), "extra": torch.zeros(1)}
    del bad["1.weight"]
    with pytest.raises(ConversionError) as error:
        load_converted(model, {**bad, "1.bias": torch.zeros(1)})
    assert str(error.value).splitlines() == [
        "conversion is incomplete:",
        "  unused checkpoint tensors: extra",
        "  model tensors left unfilled: 1.weight",
        "  shape mismatches: 0.bias: checkpoint (4,) vs model (3,)",
    ]
    load_converted(model, complete, tied=("1.bias",))  # a tied tensor may be absent
    assert torch.equal(model[0].weight, torch.ones(3, 2)) and torch.equal(model[1].weight, torch.full((1, 3), 2.0))


def test_weights_and_json_are_read_or_refused_in_one_line(tmp_path):
    torch.save({"w": torch.zeros(2)}, tmp_path / "pytorch_model.bin")
    assert torch.equal(load_state_dict(tmp_path)["w"], torch.zeros(2))
    save_file({"w": torch.ones(2)}, tmp_path / "model.safetensors")
    assert torch.equal(load_state_dict(tmp_path)["w"], torch.ones(2))  # safetensors preferred
    (tmp_path / "config.json").write_text('{"hidden_size": 8,}')
    with pytest.raises(ConversionError, match=r"config\.json is not valid JSON: ") as error:
        read_json(tmp_path / "config.json")
    assert "\n" not in str(error.value)
    with pytest.raises(ConversionError, match="^missing file: .*vocab.txt$"):
        read_json(tmp_path / "vocab.txt")


def test_parameter_trees_read_as_joblib_reads_them_and_objects_are_refused(tmp_path):
    tree = {"embed": {"embeddings": np.arange(6, dtype=np.float32).reshape(2, 3)}, "head": {"b": np.arange(2)}}
    joblib.dump(tree, tmp_path / "tree.joblib")
    loaded = load_haiku_joblib(tmp_path / "tree.joblib")
    assert loaded.keys() == {"embed/embeddings", "head/b"}
    assert torch.equal(loaded["embed/embeddings"], torch.arange(6.0).view(2, 3)) and loaded["head/b"].tolist() == [0, 1]
    joblib.dump({"embed": {"embeddings": np.array([object()], dtype=object)}}, tmp_path / "objects.joblib")
    with pytest.raises(ConversionError, match="names an array of Python objects, which could run code"):
        load_haiku_joblib(tmp_path / "objects.joblib")
    joblib.dump({"embed": np.zeros(3)}, tmp_path / "flat.joblib")
    with pytest.raises(ConversionError, match=r"is not a Haiku parameter tree \(\{module: \{param: array\}\}\)$"):
        load_haiku_joblib(tmp_path / "flat.joblib")


def test_the_output_directory_is_written_only_by_a_conversion_that_finishes(tmp_path):
    """An existing output may be written over (the callers decide beforehand); a failure leaves it as it was and no
    temporary beside it."""
    output = tmp_path / "converted"
    output.mkdir()
    (output / "config.json").write_text("old")
    with pytest.raises(RuntimeError), atomic_directory(output) as staging:
        (staging / "config.json").write_text("new")
        raise RuntimeError("a failure half-way")
    assert [path.name for path in tmp_path.iterdir()] == ["converted"] and (output / "config.json").read_text() == "old"
    with atomic_directory(output) as staging:
        (staging / "config.json").write_text("new")
    assert [path.name for path in tmp_path.iterdir()] == ["converted"] and (output / "config.json").read_text() == "new"


def test_a_vocabulary_the_config_does_not_count_is_refused(tmp_path):
    tokenizer = AutoTokenizer.from_pretrained(demo_model_path("dnabert2-demo"))
    config = DnaBert2Config(vocab_size=len(tokenizer) + 1, hidden_size=8, num_hidden_layers=1, num_attention_heads=2)
    model = DnaBert2ForMaskedLM(config)
    with pytest.raises(ConversionError) as error:
        save_converted(model, tokenizer, model.state_dict(), tmp_path / "out", "title", "source", "usage")
    message = f"the vocabulary has {len(tokenizer)} tokens but the config says {len(tokenizer) + 1}"
    assert str(error.value) == message and not (tmp_path / "out").exists()


def convert(source: str, output: str) -> ConversionReport:
    """A converter for the command line's test: fails on a source named `bad`."""
    if source == "bad":
        raise ConversionError("bad is not a checkpoint")
    return ConversionReport(output, "dnabert2", "pytorch", ["cls.predictions.bias"])


def test_the_command_line_of_every_converter(capsys):
    converter_main(convert, ["--checkpoint-path", "good", "--output-path", "out"])
    assert capsys.readouterr().out == (
        "converted the dnabert2 pytorch checkpoint -> out\nunused tensors dropped: cls.predictions.bias\n"
    )
    with pytest.raises(SystemExit) as exit_status:
        converter_main(convert, ["--checkpoint-path", "bad", "--output-path", "out"])
    assert exit_status.value.code == 1 and capsys.readouterr().err == "error: bad is not a checkpoint\n"
    with pytest.raises(SystemExit):
        converter_main(convert, ["--help"])
    usage = " ".join(capsys.readouterr().out.split())  # as argparse wraps it
    assert usage.startswith(f"usage: python -m {__name__} ") and __doc__.splitlines()[0] in usage
