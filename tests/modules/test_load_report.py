"""Loading a base model or a prediction head from a masked-LM checkpoint says in one line what was dropped or
newly initialised, and why; any other difference keeps transformers' full load report."""

from __future__ import annotations

import pytest
from safetensors import safe_open
from transformers import AutoModel, AutoModelForMaskedLM
from transformers.testing_utils import CaptureLogger
from transformers.utils import logging

import multimolecule
from multimolecule.demo import demo_model_path
from multimolecule.modules import load_report


@pytest.fixture(autouse=True)
def warnings_shown():
    level = logging.get_verbosity()
    logging.set_verbosity_warning()
    yield
    logging.set_verbosity(level)


def load(auto_class, path):
    """The model, and the lines logged by our one-line note and by transformers' load report."""
    with (
        CaptureLogger(load_report.logger) as ours,
        CaptureLogger(logging.get_logger("transformers.modeling_utils")) as theirs,
    ):
        model = auto_class.from_pretrained(path)
    return model, [line for line in (ours.out + theirs.out).splitlines() if line.strip()]


def tensors(keys, module: str) -> str:
    count = sum(key.startswith(f"{module}.") for key in keys)
    return f"{module} ({count} tensor{'s' * (count != 1)}: "


@pytest.mark.parametrize(
    "demo, auto_class, new_module",
    [
        ("dnabert2-demo", AutoModel, "pooler"),
        ("nt-demo", AutoModel, None),
        ("dnabert2-demo", multimolecule.AutoModelForSequencePrediction, "classifier"),
        ("nt-demo", multimolecule.AutoModelForSequencePrediction, "classifier"),
        ("dnabert2-demo", multimolecule.AutoModelForTokenPrediction, "classifier"),
        ("nt-demo", multimolecule.AutoModelForContactPrediction, "classifier"),
    ],
)
def test_expected_differences_take_one_line(demo, auto_class, new_module):
    path = demo_model_path(demo)
    model, lines = load(auto_class, path)
    with safe_open(path / "model.safetensors", "pt") as checkpoint:
        stored = list(checkpoint.keys())
    name = type(model).__name__
    assert lines == [lines[0]] and lines[0].startswith(f"{name} from {path}, as expected: dropped ")
    assert f"dropped {tensors(stored, 'lm_head')}not part of {name})" in lines[0]
    if new_module is None:
        assert "newly initialised" not in lines[0]
    else:
        assert f"; newly initialised {tensors(model.state_dict(), new_module)}" in lines[0]
    if new_module == "pooler":
        assert "DNABERT-2 was pre-trained without one; random, as in the original" in lines[0]


def test_same_architecture_loads_silently():
    assert load(AutoModelForMaskedLM, demo_model_path("nt-demo"))[1] == []


def test_unexpected_differences_keep_the_full_report(tmp_path):
    base = AutoModel.from_pretrained(demo_model_path("dnabert2-demo"))
    base.save_pretrained(tmp_path)
    report = "\n".join(load(AutoModelForMaskedLM, tmp_path)[1])  # a masked-LM model without its head: a problem
    assert "LOAD REPORT" in report and "lm_head.bias" in report and "MISSING" in report
    assert "as expected" not in report
