"""Loading a prediction head answers as transformers does for its own models: a shape mismatch raises a
`RuntimeError` (ours, with a one-line message naming the tensors), and `output_loading_info=True` lists a head
that was initialised anew in `missing_keys`."""

from __future__ import annotations

import pytest
from safetensors import safe_open
from transformers import AutoModel

import multimolecule
from multimolecule.demo import demo_model_path

HEADS = [
    ("dnabert2-demo", multimolecule.AutoModelForSequencePrediction),
    ("nt-demo", multimolecule.AutoModelForTokenPrediction),
    ("nt-demo", multimolecule.AutoModelForContactPrediction),
]


def stored_keys(path) -> set[str]:
    with safe_open(path / "model.safetensors", "pt") as checkpoint:
        return set(checkpoint.keys())


@pytest.fixture(scope="module")
def saved_head(tmp_path_factory):
    """A DNABERT-2 sequence head with 3 labels, saved."""
    path = tmp_path_factory.mktemp("head")
    multimolecule.AutoModelForSequencePrediction.from_pretrained(
        demo_model_path("dnabert2-demo"), num_labels=3
    ).save_pretrained(path)
    return path


@pytest.mark.parametrize("demo, auto_class", HEADS)
def test_a_new_head_is_reported_missing(demo, auto_class):
    path = demo_model_path(demo)
    model, info = auto_class.from_pretrained(path, num_labels=2, output_loading_info=True)
    new = set(model.state_dict()) - stored_keys(path)  # what the masked-LM checkpoint cannot fill
    assert new and all(key.startswith("classifier.") for key in new)
    assert info["missing_keys"] == new
    assert info["unexpected_keys"] == set() and info["mismatched_keys"] == set()


def test_a_new_pooler_is_reported_missing():
    path = demo_model_path("dnabert2-demo")
    model, info = AutoModel.from_pretrained(path, output_loading_info=True)
    expected = {f"pooler.{key}" for key in model.pooler.state_dict()}
    assert expected and info["missing_keys"] == expected


def test_a_saved_head_reloads_with_nothing_missing(saved_head):
    _, info = multimolecule.AutoModelForSequencePrediction.from_pretrained(saved_head, output_loading_info=True)
    assert info["missing_keys"] == set() and info["unexpected_keys"] == set()


def test_a_num_labels_mismatch_raises_a_runtime_error(saved_head):
    with pytest.raises(RuntimeError) as raised:
        multimolecule.AutoModelForSequencePrediction.from_pretrained(saved_head, num_labels=5)
    message = str(raised.value)
    assert isinstance(raised.value, multimolecule.CheckpointError) and "\n" not in message
    assert "classifier.out_proj.weight: checkpoint (3, " in message and "vs model (5, " in message


def test_a_num_labels_mismatch_may_be_ignored(saved_head):
    model, info = multimolecule.AutoModelForSequencePrediction.from_pretrained(
        saved_head, num_labels=5, ignore_mismatched_sizes=True, output_loading_info=True
    )
    assert model.config.num_labels == 5
    assert {key for key, _, _ in info["mismatched_keys"]} == {"classifier.out_proj.weight", "classifier.out_proj.bias"}


def test_other_loading_problems_stay_value_errors(tmp_path):
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(multimolecule.CheckpointError) as raised:
        multimolecule.DnaBert2Model.from_pretrained(tmp_path)
    assert not isinstance(raised.value, RuntimeError) and isinstance(raised.value, ValueError)
