"""The contract every registered model keeps (docs/adding-a-model.md), parametrised over the registry: on each
model's original checkpoint from ../shared/fixtures converted through the API (package layout, conversion through
the API and the command line, Auto classes, save/load, pipelines, half precision, heads at base resolution), and on
tiny random models of its demo configuration: a sequence's outputs do not depend on its batch (other lengths,
order, padding side) or on the attention backend, for every head; half precision stays finite on long inputs.

What is specific to one model (parity with its original, its tokenizer, its converter's errors) stays in its own
test file.
"""

from __future__ import annotations

import importlib
import json
import random
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
from multimolecule.api import special_template
from multimolecule.cli import main as cli_main
from multimolecule.demo import demo_model_path
from multimolecule.models.configuration_utils import MultiMoleculeConfig
from multimolecule.models.conversion_utils import ConversionReport, load_state_dict
from multimolecule.models.modeling_utils import MultiMoleculePreTrainedModel
from multimolecule.models.registry import MODELS, ModelPackage, register_model

from ..helpers import TINY, fixture_dir, masked_max_diff, pad_rows, tiny_model

# What each family declares in its `PACKAGE`: its original checkpoint under ../shared/fixtures and its bundled demo.
# The contract below is the attention encoders' (batching, attention backends, contact heads on a demo): it runs over
# the families with a demo and a contact head; the U-Net (NTv3) keeps its checks, its demo's too, in its own folder.
FIXTURES = {name: tuple(package.fixtures[0].split("/")) for name, package in MODELS.items() if package.fixtures}
DEMOS = {name: package.demo[0] for name, package in MODELS.items() if package.demo}  # its first name
CONTRACT = sorted(name for name in DEMOS if MODELS[name].contact_prediction is not None)
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


def test_every_registered_model_declares_a_fixture():
    assert set(FIXTURES) == set(MODELS) and set(DEMOS) <= set(MODELS)


def reference_logits(reference: dict) -> torch.Tensor:
    """The masked-LM logits of a fixture's reference outputs (`mlm_logits` or `logits`)."""
    return reference["mlm_logits"] if "mlm_logits" in reference else reference["logits"]


@pytest.fixture(scope="module", params=CONTRACT)
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
    folder = package.folder
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
    assert (
        cli_main(["convert", "-m", str(original), "--output-dir", str(tmp_path / "cli"), "--model-type", package.name])
        == 0
    )
    assert f"converted the {package.name} " in capsys.readouterr().out
    package.converter.main(["--checkpoint-path", str(original), "--output-path", str(tmp_path / "module")])
    assert f"converted the {package.name} " in capsys.readouterr().out
    expected = load_file(converted / "model.safetensors")
    for output in (tmp_path / "cli", tmp_path / "module"):
        tensors = load_file(output / "model.safetensors")
        assert tensors.keys() == expected.keys() and all(torch.equal(tensors[k], expected[k]) for k in tensors)
    assert (
        cli_main(["convert", "-m", str(original), "--output-dir", str(tmp_path / "cli")]) == 1
    )  # exists, no --overwrite
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


def test_tokenizer_batch_encode_plus_pads_right(tokenizer):
    batch = tokenizer.batch_encode_plus(["ACGT", TEXTS[2]], padding="max_length", max_length=8, return_tensors="pt")
    ids = tokenizer("ACGT")["input_ids"]
    assert batch["input_ids"].shape == (2, 8)
    assert batch["input_ids"][0].tolist() == ids + [tokenizer.pad_token_id] * (8 - len(ids))
    assert batch["attention_mask"][0].tolist() == [1] * len(ids) + [0] * (8 - len(ids))


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


def test_saved_tokenizer_config_says_nothing_of_where_it_was_loaded_from(converted, tmp_path):
    AutoTokenizer.from_pretrained(converted, local_files_only=True).save_pretrained(tmp_path / "saved")
    saved = json.loads((tmp_path / "saved" / "tokenizer_config.json").read_text())
    assert not {"is_local", "local_files_only"} & saved.keys()
    assert saved["tokenizer_class"] and AutoTokenizer.from_pretrained(tmp_path / "saved").mask_token == "<mask>"


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


# PEFT target lists published for the originals: LoRA on `query,value` (DNABERT-2's finetune/train.py, the NT
# notebooks), on `query,value,key,dense` (DNABERT-2's run_nt.sh), and IA3 on `value,key,dense` with `dense` as its
# feed-forward modules.
PEFT_LISTS = [
    ("lora", ["query", "value"], None),
    ("lora", ["query", "value", "key", "dense"], None),
    ("ia3", ["value", "key", "dense"], ["dense"]),
]


def original_linear_layers(package: ModelPackage, original: Path) -> dict[str, str | None]:
    """The Linear layers of the original's module tree, read from its checkpoint's keys: {the original's module
    name: ours, by the converter's table}. A 2-D `weight` outside the embeddings is a Linear's. A fused tensor
    the converter splits (DNABERT-2's `Wqkv`, rows Q | K | V, which PEFT cannot target by `query` or `value`)
    stands for the BERT Linears it holds (`query`, `key`, `value`), the names DNABERT-2's own train.py targets."""
    layout = package.original_layout
    layers = {}
    for key, tensor in load_state_dict(original).items():
        if not key.endswith(".weight") or tensor.ndim != 2 or "embeddings" in key:
            continue
        module, ours = key.removesuffix(".weight"), layout.rename(key, None)
        ours = ours.removesuffix(".weight") if ours is not None else None
        fused = next((fused for fused in layout.splits if ours is not None and ours.endswith(fused)), None)
        if fused is None:
            layers[module] = ours
            continue
        for part in layout.splits[fused]:
            layers[module.rsplit(".", 1)[0] + "." + part.rsplit(".", 1)[1]] = ours.replace(fused, part)
    return layers


@pytest.mark.parametrize(("method", "targets", "feedforward"), PEFT_LISTS)
def test_peft_lists_of_the_originals_adapt_the_same_layers(package, original, converted, method, targets, feedforward):
    """The Linear layers PEFT adapts in our masked LM are those it would adapt in the original's, and IA3 takes
    the same ones as feed-forward; every encoder Linear has the original's module path."""
    peft = pytest.importorskip("peft")
    from peft.tuners.tuners_utils import BaseTunerLayer, check_target_module_exists

    if method == "lora":
        peft_config = peft.LoraConfig(r=2, target_modules=targets)
    else:
        peft_config = peft.IA3Config(target_modules=targets, feedforward_modules=feedforward)
    feedforward_config = peft.LoraConfig(r=2, target_modules=feedforward or [])

    layers = original_linear_layers(package, original)
    expected = {
        layers[name]: bool(feedforward) and bool(check_target_module_exists(feedforward_config, name))
        for name in layers
        if check_target_module_exists(peft_config, name)
    }
    model = peft.get_peft_model(load(package, "masked_lm", converted), peft_config)
    adapted = {
        name.removeprefix("base_model.model."): getattr(module, "is_feedforward", False)
        for name, module in model.named_modules()
        if isinstance(module, BaseTunerLayer)
    }
    assert adapted == expected
    assert any(".encoder." in name for name in adapted)
    for name, ours in layers.items():  # the encoder's module paths are the original's, past the prefix
        if ".encoder." in name:
            assert ours.split(".", 1)[1] == name.split(".", 1)[1], (name, ours)


# A sequence's outputs do not depend on its batch, nor on the attention backend


HEADS = {  # what the test reads of each head's output, and the Auto class that builds it
    "model": AutoModel,
    "masked_lm": AutoModelForMaskedLM,
    "sequence": AutoModelForSequencePrediction,
    "sequence-mean": AutoModelForSequencePrediction,
    "token": AutoModelForTokenPrediction,
    "contact": AutoModelForContactPrediction,
}
BATCH_CASES = [  # (model, head, weights, config): every head of a tiny random model, also with learned
    # positions where the family offers them; the original's weights
    *((name, head, "tiny", "demo") for name in CONTRACT for head in HEADS),
    *(
        (name, head, "tiny", "absolute positions")
        for name in CONTRACT
        if MODELS[name].config().position_embedding_type == "rotary"
        for head in HEADS
    ),
    *((name, head, "original", "demo") for name in CONTRACT for head in ("model", "masked_lm")),
]


def per_sequence(output, head: str, input_ids, attention_mask, lengths) -> list[torch.Tensor]:
    """Each sequence's own outputs, padding removed: every hidden layer on its tokens, logits on its tokens, its
    sequence logits, its bases' logits or its base pairs' logits."""
    mask = attention_mask.bool()
    rows = range(len(mask))
    if head == "model":
        return [torch.stack([states[i][mask[i]] for states in output.hidden_states]) for i in rows]
    if head == "masked_lm":
        return [output.logits[i][mask[i]] for i in rows]
    if head.startswith("sequence"):
        return list(output.logits)
    bases = (lengths[input_ids] * attention_mask).sum(1).tolist()
    if head == "token":
        return [output.logits[i, : bases[i]] for i in rows]
    return [output.logits[i, : bases[i], : bases[i]] for i in rows]


@pytest.mark.parametrize("backend", ["eager", "sdpa"])  # padded, packed; flash_attention_2 needs a GPU
@pytest.mark.parametrize("package, head, weights, variant", BATCH_CASES, indirect=["package"])
def test_outputs_do_not_depend_on_the_batch_or_the_backend(request, package, head, weights, variant, backend):
    """Random DNA of 1 to ~400 bases (lower case and N included), each sequence alone and unpadded on the padded
    eager path (the reference), then batched with the others, and shuffled and left-padded."""
    overrides = {"head_pooling": "mean" if head == "sequence-mean" else "cls"}
    if variant == "absolute positions":
        overrides["position_embedding_type"] = "absolute"
    if weights == "tiny":
        source = demo_model_path(DEMOS[package.name])
        overrides |= TINY
    else:
        source = request.getfixturevalue("converted")
    tokenizer = AutoTokenizer.from_pretrained(source)
    config = AutoConfig.from_pretrained(source, **overrides)
    auto_class = HEADS[head]

    def build(attn_implementation: str):
        torch.manual_seed(0)  # heads new to the checkpoint initialise alike
        if weights == "tiny":
            return auto_class.from_config(config, attn_implementation=attn_implementation).eval()
        return auto_class.from_pretrained(source, config=config, attn_implementation=attn_implementation).eval()

    generator = random.Random(7)
    texts = ["".join(generator.choice("ACGTACGTacgN") for _ in range(n)) for n in (1, 5, 17, 64, 203)]
    sequences = [tokenizer(text)["input_ids"] for text in texts]
    lengths = torch.tensor(tokenizer.token_lengths)
    kwargs = {"output_hidden_states": True} if head == "model" else {}

    def run(model, rows: list[list[int]], left: bool = False) -> list[torch.Tensor]:
        input_ids, attention_mask = pad_rows(rows, tokenizer.pad_token_id, left)
        with torch.no_grad():
            output = model(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        if head == "model":
            assert len(output.hidden_states) == config.num_hidden_layers + 1
            if model.config._attn_implementation == "sdpa":  # padding is never computed on: exact zeros
                assert not any(states[~attention_mask.bool()].any() for states in output.hidden_states)
        return per_sequence(output, head, input_ids, attention_mask, lengths)

    reference, model = build("eager"), build(backend)
    alone = [run(reference, [ids])[0] for ids in sequences]
    order = [3, 0, 4, 2, 1]
    batches = {"together": (list(range(len(sequences))), False), "shuffled, left-padded": (order, True)}
    for name, (chosen, left) in batches.items():
        outputs = run(model, [sequences[i] for i in chosen], left)
        for i, output in zip(chosen, outputs):
            assert output.shape == alone[i].shape, (name, i)
            # fp32 rounding differs with the key lists' lengths: trained weights' logits, relative to their scale
            tolerance = TOLERANCE * (alone[i].abs().max().item() if weights == "original" else 1)
            difference = (output - alone[i]).abs().max().item()
            assert difference <= tolerance, f"{name}: sequence {i} differs by {difference:.2e}"


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_stays_finite_on_long_inputs(package, dtype):
    """8k tokens on the packed path (and 1k on the padded eager one), a short sequence beside them: every hidden
    layer, and the masked-LM logits on the eager path."""
    tokenizer = AutoTokenizer.from_pretrained(demo_model_path(DEMOS[package.name]))
    generator = torch.Generator().manual_seed(0)
    dna = [i for token, i in tokenizer.get_vocab().items() if set(token) <= set("ACGT")]
    for backend, length in (("sdpa", 8192), ("eager", 1024)):
        role = "model" if backend == "sdpa" else "masked_lm"
        config = {"max_position_embeddings": 8194, "hidden_size": 16, "num_attention_heads": 2}
        model = tiny_model(getattr(package, role), backend, **config).to(dtype)
        body = torch.tensor(dna)[torch.randint(len(dna), (length,), generator=generator)].tolist()
        prefix, suffix = special_template(tokenizer)
        long = [*prefix, *body[: length - len(prefix) - len(suffix)], *suffix]
        short = tokenizer("ACGTAGCTAGCTAGGATCCA")["input_ids"]
        input_ids, attention_mask = pad_rows([long, short], tokenizer.pad_token_id)
        with torch.no_grad():
            output = model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        outputs = output.hidden_states + ((output.logits,) if role == "masked_lm" else ())
        assert outputs[-1].dtype == dtype and input_ids.shape[1] == length
        for states in outputs:
            assert torch.isfinite(states[attention_mask.bool()]).all(), (backend, length)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_runs(package, original, converted, dtype):
    """The converted checkpoint loaded in half precision: finite logits, close to the original's fp32 ones."""
    reference = load_file(original / "reference.safetensors")
    model = load(package, "masked_lm", converted, dtype=dtype)
    with torch.no_grad():
        logits = model(reference["input_ids"]).logits
    assert logits.dtype == dtype and torch.isfinite(logits).all()
    expected, mask = reference_logits(reference), reference["attention_mask"].bool()
    scale = expected[mask].abs().max().item()
    assert masked_max_diff(logits.float(), expected, mask) < 0.1 * scale  # half-precision rounding


# Attention


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


def test_query_chunk_size_is_honoured(package, converted, tokenizer, monkeypatch):
    """Packed sdpa attention runs `query_chunk_size` query rows per kernel call, with the same result."""
    calls = []

    def counting_sdpa(*args, **kwargs):
        calls.append(args[1].shape[2])  # query rows
        return sdpa(*args, **kwargs)

    sdpa = AttentionInterface._global_mapping["sdpa"]
    inputs = tokenizer(TEXTS[0], return_tensors="pt")
    with torch.no_grad():
        whole = load(package, "model", converted).forward(**inputs).last_hidden_state
        monkeypatch.setitem(AttentionInterface._global_mapping, "sdpa", counting_sdpa)
        model = load(package, "model", converted, query_chunk_size=3)
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


def test_base_heads_refuse_tokens_longer_than_they_were_built_for(package):
    """A vocabulary set after the head was created, with longer tokens than its offset embeddings cover."""
    for head in ("token_prediction", "contact_prediction"):
        config = package.config(num_hidden_layers=1, hidden_size=32, num_attention_heads=2, intermediate_size=64)
        model = getattr(package, head)(config)
        built_for = len(model.classifier.base_embeddings.offset_embeddings)
        model.config.token_bases = ["", "A" * (built_for + 1)] + ["A"] * (config.vocab_size - 2)
        model.config.token_lengths = [len(bases) for bases in model.config.token_bases]
        with pytest.raises(ValueError, match=f"a token covers {built_for + 1} bases, more than the {built_for}"):
            model(torch.tensor([[5, 1, 6]]))


def test_contact_head(package, converted, tokenizer):
    model = load(package, "contact_prediction", converted, num_labels=1)
    text = TEXTS[1]
    labels = torch.rand(len(text), len(text))
    output = model(**tokenizer(text, return_tensors="pt"), labels=labels)
    assert output.logits.shape == (1, len(text), len(text), 1)
    assert torch.allclose(output.logits, output.logits.transpose(1, 2))
    assert torch.allclose(output.loss, torch.nn.functional.mse_loss(output.logits[0, ..., 0], labels))
