"""The contract every registered model keeps (docs/adding-a-model.md), on each model's original checkpoint from
../shared/fixtures converted through the API: package layout, conversion through the API and the command line,
Auto classes, save/load, pipelines, heads at base resolution, padding-free against padded outputs.

What is specific to one model (parity with its original, its tokenizer, its converter's errors) stays in its own
test file.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import (
    AttentionInterface,
    AutoConfig,
    AutoModel,
    AutoModelForMaskedLM,
    AutoModelForPreTraining,
    AutoModelForSequenceClassification,
    AutoModelForTokenClassification,
    AutoTokenizer,
    pipeline,
)

import multimolecule
from multimolecule import (
    AutoModelForContactPrediction,
    AutoModelForSequencePrediction,
    AutoModelForTokenPrediction,
    api,
)
from multimolecule.cli import main as cli_main
from multimolecule.conversion import ConversionReport
from multimolecule.models.configuration_utils import MultiMoleculeConfig
from multimolecule.models.modeling_utils import MultiMoleculePreTrainedModel
from multimolecule.models.registry import MODELS, ModelPackage, register_model

from .conftest import fixture_dir

# The original checkpoint of each registered model, under ../shared/fixtures.
FIXTURES = {"dnabert2": ("dnabert2", "tiny_a"), "nucleotide_transformer": ("nucleotide_transformer", "nt_v2_tiny_a")}
TEXTS = ["ACGTAGCATCGGATCTATCTATCGACACTTGG", "TTGACAGCTAGCTCAG", "GATTACAT"]
AUTO_CLASSES = {
    AutoModel: "model",
    AutoModelForMaskedLM: "masked_lm",
    AutoModelForPreTraining: "pretraining",
    AutoModelForSequenceClassification: "sequence_prediction",
    AutoModelForTokenClassification: "token_prediction",
    AutoModelForSequencePrediction: "sequence_prediction",
    AutoModelForTokenPrediction: "token_prediction",
    AutoModelForContactPrediction: "contact_prediction",
}
TOLERANCE = 1e-5
HIDDEN_ATOL = 1e-4  # against the original implementations' outputs


def test_every_registered_model_has_a_fixture():
    assert set(FIXTURES) == set(MODELS)


@pytest.fixture(scope="module", params=sorted(MODELS))
def package(request) -> ModelPackage:
    return MODELS[request.param]


@pytest.fixture(scope="module")
def original(package) -> Path:
    return fixture_dir(*FIXTURES[package.name])


@pytest.fixture(scope="module")
def converted(package, original, tmp_path_factory) -> Path:
    report = api.convert(original, tmp_path_factory.mktemp(package.name) / "converted")
    assert isinstance(report, ConversionReport) and report.model_type == package.name
    return report.output_path


@pytest.fixture(scope="module")
def tokenizer(converted):
    return AutoTokenizer.from_pretrained(converted)


def load(package: ModelPackage, role: str, converted: Path, **kwargs):
    return getattr(package, role).from_pretrained(converted, **kwargs).eval()


def assert_close_on_tokens(
    actual: torch.Tensor, expected: torch.Tensor, mask: torch.Tensor, tolerance: float = TOLERANCE
) -> None:
    difference = (actual - expected)[mask.bool()].abs().max().item()
    assert difference <= tolerance, difference


# Parity with the original


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_parity_each_sequence_alone(package, original, converted, attn_implementation):
    """Each sequence of the fixture's reference batch, alone and unpadded, against the original's outputs."""
    reference = load_file(original / "reference.safetensors")
    model = load(package, "model", converted, attn_implementation=attn_implementation)
    for row, length in enumerate(reference["attention_mask"].sum(1).tolist()):
        with torch.no_grad():
            output = model(reference["input_ids"][row : row + 1, :length])
        expected = reference["last_hidden_state"][row : row + 1, :length]
        assert (output.last_hidden_state - expected).abs().max().item() < HIDDEN_ATOL


# The package


def test_package_layout(package):
    folder = package.config.__module__.rsplit(".", 2)[-2]
    assert folder == package.name and issubclass(package.config, MultiMoleculeConfig)
    for model_class in package.model_classes.values():
        assert issubclass(model_class, MultiMoleculePreTrainedModel) and model_class.config_class is package.config
    for function in ("convert_checkpoint", "detect", "main"):
        assert callable(getattr(package.converter, function)), function
    exported = importlib.import_module(f"multimolecule.models.{folder}").__all__
    assert set(exported) <= set(multimolecule.__all__)


def test_detect_recognises_only_its_own_original(package, original, converted):
    assert {name for name, other in MODELS.items() if other.detect(original)} == {package.name}
    assert api.detect_model(original) == package.name
    assert not any(other.detect(converted) for other in MODELS.values())
    with pytest.raises(api.InputError, match="already a multimolecule checkpoint"):
        api.detect_model(converted)


def test_converted_directory(converted):
    assert sorted(path.name for path in converted.iterdir()) == [
        "README.md",
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
    ]


def test_conversion_through_the_command_lines(package, original, converted, tmp_path, capsys):
    assert cli_main(["convert", str(original), str(tmp_path / "cli"), "--model", package.name]) == 0
    assert f"converted the {package.name} " in capsys.readouterr().out
    package.converter.main(["--checkpoint-path", str(original), "--output-path", str(tmp_path / "module")])
    assert f"converted the {package.name} " in capsys.readouterr().out
    expected = load_file(converted / "model.safetensors")
    for output in (tmp_path / "cli", tmp_path / "module"):
        tensors = load_file(output / "model.safetensors")
        assert tensors.keys() == expected.keys() and all(torch.equal(tensors[k], expected[k]) for k in tensors)
    assert cli_main(["convert", str(original), str(tmp_path / "cli")]) == 1  # exists, no --overwrite
    assert "output exists" in capsys.readouterr().err
    details = api.info(str(converted))
    assert details["model_type"] == package.name and details["format"] == "multimolecule"
    assert api.info(str(original))["model_type"] == package.name


# transformers integration


def test_auto_classes(package, converted):
    for auto_class, role in AUTO_CLASSES.items():
        assert type(auto_class.from_pretrained(converted)) is getattr(package, role), auto_class.__name__
    assert type(AutoConfig.from_pretrained(converted)) is package.config
    assert type(AutoTokenizer.from_pretrained(converted)) is package.tokenizer


def test_registering_again_is_harmless(package):
    register_model(package)  # as if transformers already shipped the model type: must not raise
    config = package.config(num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=64)
    assert type(AutoModel.from_config(config)) is package.model


def test_save_and_load_round_trip(package, converted, tokenizer, tmp_path):
    model = load(package, "masked_lm", converted)
    model.save_pretrained(tmp_path / "saved")
    tokenizer.save_pretrained(tmp_path / "saved")
    reloaded = AutoModelForMaskedLM.from_pretrained(tmp_path / "saved").eval()
    batch = AutoTokenizer.from_pretrained(tmp_path / "saved")(TEXTS, padding=True, return_tensors="pt")
    assert torch.equal(batch["input_ids"], tokenizer(TEXTS, padding=True, return_tensors="pt")["input_ids"])
    with torch.no_grad():
        assert torch.equal(model(**batch).logits, reloaded(**batch).logits)


def test_pipelines(converted, tokenizer):
    prefix, suffix = "ACGTAGCATCGG", "TCTATCTATCGA"
    predictions = pipeline("fill-mask", model=str(converted))(f"{prefix}<mask>{suffix}")
    assert len(predictions) == 5 and predictions[0]["score"] >= predictions[-1]["score"]
    for prediction in predictions:
        assert re.fullmatch(f"{prefix}[ACGTN]+{suffix}", prediction["sequence"]), prediction["sequence"]
        assert prediction["sequence"] == prefix + prediction["token_str"] + suffix
    features = pipeline("feature-extraction", model=str(converted))(TEXTS[0], return_tensors=True)
    hidden_size = AutoConfig.from_pretrained(converted).hidden_size
    assert features.shape == (1, len(tokenizer(TEXTS[0])["input_ids"]), hidden_size)


def test_gradient_checkpointing_gives_the_same_gradients(package, converted, tokenizer):
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    labels = torch.where(batch["attention_mask"].bool(), batch["input_ids"], -100)

    def gradients(checkpointing: bool) -> torch.Tensor:
        model = package.masked_lm.from_pretrained(converted, hidden_dropout=0.0, attention_dropout=0.0)
        if checkpointing:
            model.activation_checkpointing_enable()
            assert all(layer.gradient_checkpointing for layer in model.model.encoder.layer)
        model.train()
        model(**batch, labels=labels).loss.backward()
        return model.model.encoder.layer[0].attention.self.query.weight.grad

    assert torch.allclose(gradients(True), gradients(False), atol=1e-6)


def test_peft_targets_are_named_linear_layers(package, converted):
    modules = dict(load(package, "model", converted).named_modules())
    for name in ("query", "key", "value"):
        assert isinstance(modules[f"encoder.layer.0.attention.self.{name}"], torch.nn.Linear), name
    for name in ("attention.output.dense", "mlp.up_proj", "mlp.down_proj"):
        assert isinstance(modules[f"encoder.layer.0.{name}"], torch.nn.Linear), name


# Padding-free batches and attention backends


def test_padding_free_equals_padded(package, converted, tokenizer):
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    mask = batch["attention_mask"]
    with torch.no_grad():
        padded = load(package, "masked_lm", converted, attn_implementation="eager")
        packed = load(package, "masked_lm", converted, attn_implementation="sdpa")
        padded, packed = (model(**batch, output_hidden_states=True) for model in (padded, packed))
    layers = AutoConfig.from_pretrained(converted).num_hidden_layers
    assert len(packed.hidden_states) == len(padded.hidden_states) == layers + 1
    for packed_states, padded_states in zip(packed.hidden_states, padded.hidden_states):
        assert_close_on_tokens(packed_states, padded_states, mask)
        assert packed_states[~mask.bool()].abs().max() == 0  # padding is never computed on
    # fp32 rounding differs with the key lists' lengths: relative to the logits' scale
    assert_close_on_tokens(packed.logits, padded.logits, mask, TOLERANCE * padded.logits.abs().max().item())


def test_attention_weights_come_from_the_padded_path(package, converted, tokenizer):
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    model = load(package, "model", converted, attn_implementation="sdpa")
    with torch.no_grad():
        output = model(**batch, output_attentions=True)
    heads, length = model.config.num_attention_heads, batch["input_ids"].shape[1]
    assert len(output.attentions) == model.config.num_hidden_layers
    assert output.attentions[0].shape == (len(TEXTS), heads, length, length)
    shortest = int(batch["attention_mask"][2].sum())
    weights = output.attentions[0][2, :, 0]  # shortest sequence, first query
    assert torch.allclose(weights.sum(-1), torch.ones(heads)) and weights[:, shortest:].abs().max() == 0


def test_attention_chunk_size_is_honoured(package, converted, tokenizer, monkeypatch):
    """Packed sdpa attention runs `attention_chunk_size` query rows per kernel call, with the same result."""
    calls = []

    def counting_sdpa(*args, **kwargs):
        calls.append(args[1].shape[2])  # query rows
        return sdpa(*args, **kwargs)

    sdpa = AttentionInterface._global_mapping["sdpa"]
    inputs = tokenizer(TEXTS[0], return_tensors="pt")
    with torch.no_grad():
        whole = load(package, "model", converted).forward(**inputs).last_hidden_state
        monkeypatch.setitem(AttentionInterface._global_mapping, "sdpa", counting_sdpa)
        model = load(package, "model", converted, attention_chunk_size=3)
        chunked = model(**inputs).last_hidden_state
    length = inputs["input_ids"].shape[1]
    assert calls == [min(3, length - start) for start in range(0, length, 3)] * model.config.num_hidden_layers
    assert (chunked - whole).abs().max() <= TOLERANCE


# Heads at base resolution


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_sequence_head_ignores_padding(package, converted, tokenizer, pooling):
    model = load(package, "sequence_prediction", converted, head_pooling=pooling, num_labels=3)
    with torch.no_grad():
        batched = model(**tokenizer(TEXTS, padding=True, return_tensors="pt"), labels=torch.tensor([0, 2, 1]))
        alone = model(**tokenizer(TEXTS[2:], return_tensors="pt")).logits
    assert batched.logits.shape == (3, 3) and torch.isfinite(batched.loss)
    assert torch.allclose(batched.logits[2], alone[0], atol=TOLERANCE)


def test_sequence_head_problem_types(package, converted, tokenizer):
    batch = tokenizer(TEXTS[:2], padding=True, return_tensors="pt")
    regression = package.sequence_prediction.from_pretrained(converted, num_labels=1)
    output = regression(**batch, labels=torch.tensor([0.5, -1.0]))
    expected = torch.nn.functional.mse_loss(output.logits.squeeze(-1), torch.tensor([0.5, -1.0]))
    assert regression.config.problem_type == "regression" and torch.allclose(output.loss, expected)
    multi = package.sequence_prediction.from_pretrained(converted, num_labels=4)
    labels = torch.tensor([[1.0, 0, 1, 0], [0, 0, 0, 1]])
    output = multi(**batch, labels=labels)
    expected = torch.nn.functional.binary_cross_entropy_with_logits(output.logits, labels)
    assert multi.config.problem_type == "multi_label_classification" and torch.allclose(output.loss, expected)


def test_token_head_has_one_output_per_base(package, converted, tokenizer):
    model = load(package, "token_prediction", converted)
    batch = tokenizer(TEXTS, padding=True, return_tensors="pt")
    assert batch["input_ids"].shape[1] < len(TEXTS[0])  # fewer tokens than bases
    lengths = [len(text) for text in TEXTS]
    labels = torch.full((len(TEXTS), max(lengths)), -100)
    for row, length in enumerate(lengths):
        labels[row, :length] = torch.randint(2, (length,))
    with torch.no_grad():
        output = model(**batch, labels=labels)
        alone = model(**tokenizer(TEXTS[1], return_tensors="pt")).logits
    assert output.logits.shape == (len(TEXTS), max(lengths), 2) and torch.isfinite(output.loss)
    assert output.base_mask.sum(1).tolist() == lengths
    assert torch.allclose(alone[0], output.logits[1, : lengths[1]], atol=TOLERANCE)  # padding changes nothing
    with pytest.raises(ValueError, match=f"{lengths[1]} bases"):
        model(**tokenizer(TEXTS[1], return_tensors="pt"), labels=torch.zeros(lengths[1] - 1, dtype=torch.long))
    # Each base gets its token's output plus embeddings of its own nucleotide and offset: the bases of a token
    # differ, and without those embeddings they would share their token's output. The first token of several
    # bases in the first sequence:
    spans, start = [], 0
    for token in batch["input_ids"][0].tolist():
        length = model.config.token_lengths[token]
        spans.append((start, length))
        start += length
    start, length = next(span for span in spans if span[1] > 1)
    assert not torch.equal(output.logits[0, start], output.logits[0, start + 1])
    with torch.no_grad():
        model.classifier.base_embeddings.nucleotide_embeddings.zero_()
        model.classifier.base_embeddings.offset_embeddings.zero_()
        token_only = model(**batch).logits[0]
    assert all(torch.equal(token_only[start], token_only[start + i]) for i in range(length))
    assert not torch.equal(token_only[start], token_only[start + length])


def test_token_head_needs_token_lengths(package):
    config = package.config(num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=64)
    config.token_lengths = None
    with pytest.raises(ValueError, match="token_lengths"):
        package.token_prediction(config)(torch.tensor([[config.cls_token_id, 5, 6]]))


def test_contact_head(package, converted, tokenizer):
    model = load(package, "contact_prediction", converted, num_labels=1)
    text = TEXTS[1]
    labels = torch.rand(len(text), len(text))
    output = model(**tokenizer(text, return_tensors="pt"), labels=labels)
    assert output.logits.shape == (1, len(text), len(text), 1)
    assert torch.allclose(output.logits, output.logits.transpose(1, 2))
    assert torch.allclose(output.loss, torch.nn.functional.mse_loss(output.logits[0, ..., 0], labels))
