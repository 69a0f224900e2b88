"""The registry of model families: one call loads the class of each task for a checkpoint, the package of a folder
is read from its config.json, and what is not registered is refused with the names of what is."""

from __future__ import annotations

import pytest
import torch

import multimolecule
from multimolecule import NucleotideTransformerTokenizer
from multimolecule.demo import demo_model_path
from multimolecule.models import CheckpointError
from multimolecule.models.registry import TASKS, detect_model_type, get_model, package_of

PREFIXES = {"dnabert2-demo": "DnaBert2", "nt-demo": "NucleotideTransformer"}
SUFFIXES = {
    "feature-extraction": "Model",
    "fill-mask": "ForMaskedLM",
    "pretraining": "ForPreTraining",
    "text-classification": "ForSequencePrediction",
    "sequence-prediction": "ForSequencePrediction",
    "token-classification": "ForTokenPrediction",
    "token-prediction": "ForTokenPrediction",
    "contact-prediction": "ForContactPrediction",
}


@pytest.mark.parametrize("task", list(SUFFIXES))
@pytest.mark.parametrize("name", list(PREFIXES))
def test_each_task_loads_its_class(name, task):
    assert set(TASKS) == set(SUFFIXES)
    model = multimolecule.from_pretrained(name, task=task)
    assert type(model).__name__ == PREFIXES[name] + SUFFIXES[task]


def test_unregistered_names_and_tasks_name_what_there_is(tmp_path):
    with pytest.raises(KeyError, match="unknown model 'esm'; choose one of dnabert2, nucleotide_transformer"):
        get_model("esm")
    with pytest.raises(ValueError, match="unknown task 'translation'; choose from feature-extraction, fill-mask"):
        multimolecule.from_pretrained("nt-demo", task="translation")
    with pytest.raises(CheckpointError, match="has no config.json: not a model directory, a Hub id or a demo name"):
        package_of(tmp_path)


def test_the_package_of_a_folder_and_its_tokenizer():
    assert package_of(demo_model_path("nt-demo")).name == "nucleotide_transformer"
    assert package_of("dnabert2-demo").title == "DNABERT-2"
    tokenizer = multimolecule.tokenizer_from_pretrained("nt-demo")
    assert type(tokenizer) is NucleotideTransformerTokenizer and tokenizer("ACGTAC")["input_ids"] == [3, 728]
    assert detect_model_type(demo_model_path("nt-demo")) is None  # our own layout is not an original to convert


@torch.no_grad()
def test_pipeline_builds_the_model_and_tokenizer_of_a_name():
    features = multimolecule.pipeline("feature-extraction", model="nt-demo")("ACGTACGGATCC", return_tensors=True)
    model = multimolecule.from_pretrained("nt-demo").eval()
    tokenizer = multimolecule.tokenizer_from_pretrained("nt-demo")
    expected = model(**tokenizer("ACGTACGGATCC", return_tensors="pt")).last_hidden_state
    torch.testing.assert_close(features, expected)


def test_a_family_declares_its_demo_and_tokenizer_recipe():
    """The bundled demos and `train-tokenizer`'s recipe are read from the families' `PACKAGE`s, nothing else."""
    from multimolecule.demo import DEMO_MODELS
    from multimolecule.models import MODELS
    from multimolecule.pretraining.tokenizer import recipe_family
    from multimolecule.utils import OptionError

    declared = {name: package.folder for package in MODELS.values() for name in package.demo}
    assert DEMO_MODELS == declared and {"dnabert2-demo", "nt-demo"} <= set(declared)
    assert demo_model_path("nt-demo") == demo_model_path("nucleotide-transformer-demo")
    assert (demo_model_path("nt-demo") / "config.json").is_file()
    with pytest.raises(KeyError, match="no demo model 'dnabert-s-demo'; choose from dnabert2-demo, nt-demo"):
        demo_model_path("dnabert-s-demo")
    assert recipe_family() is get_model("dnabert2") and get_model("dnabert2").tokenizer_recipe.smallest == 9
    with pytest.raises(OptionError, match="NTv3 has no tokenizer recipe; train-tokenizer trains: dnabert2"):
        recipe_family("ntv3")
