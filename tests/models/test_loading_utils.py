"""Published checkpoints load as they are: original directories, Hub ids (from a local Hub cache, offline), demo
names; the result equals converting first. Also the older multimolecule layout's pad id, and clear refusals.

A prediction head answers as transformers does for its own models: a shape mismatch raises a `RuntimeError` (ours,
with a one-line message naming the tensors), and `output_loading_info=True` lists a head that was initialised anew
in `missing_keys`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from transformers import AutoModel, BertConfig, BertModel, pipeline

import multimolecule
from multimolecule import (
    DnaBert2ForContactPrediction,
    DnaBert2ForMaskedLM,
    DnaBert2ForPreTraining,
    DnaBert2ForSequencePrediction,
    DnaBert2ForTokenPrediction,
    DnaBert2Model,
    DnaBert2Tokenizer,
    NucleotideTransformerForMaskedLM,
    NucleotideTransformerForSequencePrediction,
    NucleotideTransformerForTokenPrediction,
    NucleotideTransformerModel,
    NucleotideTransformerTokenizer,
    api,
)
from multimolecule.demo import demo_model_path
from multimolecule.models import MODELS, CheckpointError
from multimolecule.models.dnabert2.convert_checkpoint import convert_checkpoint as convert_dnabert2
from multimolecule.models.nucleotide_transformer.convert_checkpoint import convert_checkpoint as convert_nt

from ..helpers import fixture_dir, subprocess_env

DNABERT2_ID, NT_ID = "zhihan1996/DNABERT-2-117M", "InstaDeepAI/nucleotide-transformer-v2-100m-multi-species"
COMMIT = "d064dece0000000000000000000000000000abcd"
DNA = ["ACGTAGCATCGGATCTATCTATCGACACTTGG", "CGTTTTCCAGTTGGCCTGCCNTCTGTAGTC<mask>ATGG", "AAGTCAAATACTGGGCC"]


@pytest.fixture(scope="module")
def dnabert2_original() -> Path:
    return fixture_dir("dnabert2", "tiny_a")


@pytest.fixture(scope="module")
def nt_original() -> Path:
    return fixture_dir("nucleotide_transformer", "nt_v2_tiny_a")


@pytest.fixture(scope="module")
def dnabert2_converted(dnabert2_original, tmp_path_factory) -> Path:
    return convert_dnabert2(dnabert2_original, tmp_path_factory.mktemp("dnabert2") / "converted").output_path


@pytest.fixture(scope="module")
def nt_converted(nt_original, tmp_path_factory) -> Path:
    return convert_nt(nt_original, tmp_path_factory.mktemp("nt") / "converted").output_path


def outputs(model, batch) -> list[torch.Tensor]:
    """Every hidden state and, for a masked LM, the logits."""
    with torch.no_grad():
        output = model(**batch, output_hidden_states=True)
    return [*output.hidden_states, *([output.logits] if hasattr(output, "logits") else [])]


def assert_same_model(model_class, source: Path, converted: Path, batch) -> None:
    """`model_class` loaded from `source` equals it loaded from `converted`: same tensors, same outputs."""
    torch.manual_seed(0)  # heads absent from both checkpoints initialise alike
    loaded = model_class.from_pretrained(source)
    torch.manual_seed(0)
    reference = model_class.from_pretrained(converted)
    assert type(loaded.config) is type(reference.config)
    assert loaded.state_dict().keys() == reference.state_dict().keys()
    for name, tensor in reference.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    for actual, expected in zip(outputs(loaded, batch), outputs(reference, batch), strict=True):
        assert torch.equal(actual, expected)


# ------------------------------------------------------------------------------------ original directories


@pytest.mark.parametrize(
    "model_class",
    [DnaBert2Model, DnaBert2ForMaskedLM, DnaBert2ForPreTraining, DnaBert2ForSequencePrediction,
     DnaBert2ForTokenPrediction, DnaBert2ForContactPrediction],
)  # fmt: skip
def test_dnabert2_original_directory_equals_converting_first(model_class, dnabert2_original, dnabert2_converted):
    tokenizer = DnaBert2Tokenizer.from_pretrained(dnabert2_converted)
    batch = tokenizer(DNA, padding=True, return_tensors="pt")
    if model_class is DnaBert2ForContactPrediction:
        batch = tokenizer(DNA[2:], return_tensors="pt")  # one sequence: one base-pair map
    assert_same_model(model_class, dnabert2_original, dnabert2_converted, batch)


def test_dnabert2_original_reproduces_the_reference(dnabert2_original):
    reference = load_file(dnabert2_original / "reference.safetensors")
    model = DnaBert2ForMaskedLM.from_pretrained(dnabert2_original)
    batch = {name: reference[name] for name in ("input_ids", "attention_mask", "token_type_ids")}
    hidden_states = outputs(model, batch)
    mask = reference["attention_mask"].bool()
    expected = [reference["embedding_output"], *(reference[f"layer_{i}_output"] for i in range(2))]
    for actual, wanted in zip(hidden_states[:-1], expected, strict=True):
        assert (actual - wanted)[mask].abs().max() < 1e-4
    assert (hidden_states[-1] - reference["mlm_logits"])[mask].abs().max() < 5e-4


@pytest.mark.parametrize(
    "model_class",
    [NucleotideTransformerModel, NucleotideTransformerForMaskedLM, NucleotideTransformerForSequencePrediction,
     NucleotideTransformerForTokenPrediction],
)  # fmt: skip
def test_nt_v2_original_directory_equals_converting_first(model_class, nt_original, nt_converted):
    batch = NucleotideTransformerTokenizer.from_pretrained(nt_converted)(DNA, padding=True, return_tensors="pt")
    assert_same_model(model_class, nt_original, nt_converted, batch)


def test_nt_v2_original_reproduces_the_reference(nt_original):
    reference = load_file(nt_original / "reference.safetensors")
    model = NucleotideTransformerForMaskedLM.from_pretrained(nt_original)
    batch = {"input_ids": reference["input_ids"], "attention_mask": reference["attention_mask"]}
    mask = reference["attention_mask"].bool()
    actual = outputs(model, batch)
    for i, hidden_state in enumerate(actual[:-1]):
        assert (hidden_state - reference[f"hidden_states.{i}"])[mask].abs().max() < 1e-4
    assert (actual[-1] - reference["logits"])[mask].abs().max() < 5e-4


def test_nt_v1_esm_directory_equals_converting_first(v1):
    converted = v1["report"].output_path
    esm_directory = converted.parent / "v1"
    batch = v1["batch"]
    for model_class in (NucleotideTransformerModel, NucleotideTransformerForMaskedLM):
        assert_same_model(model_class, esm_directory, converted, batch)
    model = NucleotideTransformerForMaskedLM.from_pretrained(esm_directory)
    mask = batch["attention_mask"].bool()
    assert (outputs(model, batch)[-1] - v1["expected"].logits)[mask].abs().max() < 5e-4
    tokenizer = NucleotideTransformerTokenizer.from_pretrained(esm_directory)
    assert tokenizer.model_max_length == NucleotideTransformerTokenizer.from_pretrained(converted).model_max_length


def test_tokenizers_from_original_directories(dnabert2_original, dnabert2_converted, nt_original, nt_converted):
    probes = json.loads((dnabert2_original / "reference.json").read_text())["tokenizer_probes"]
    from_original, from_converted = (
        DnaBert2Tokenizer.from_pretrained(path) for path in (dnabert2_original, dnabert2_converted)
    )
    assert type(from_original) is DnaBert2Tokenizer and from_original.name_or_path == str(dnabert2_original)
    for probe in probes:
        assert from_original(probe["text"])["input_ids"] == from_converted(probe["text"])["input_ids"]
    cases = json.loads((nt_original / "reference.json").read_text())["tokenizer_cases"]
    from_original, from_converted = (
        NucleotideTransformerTokenizer.from_pretrained(path) for path in (nt_original, nt_converted)
    )
    for case in cases:
        assert from_original(case["sequence"])["input_ids"] == from_converted(case["sequence"])["input_ids"]
    assert from_original.model_max_length == from_converted.model_max_length == 1000


def test_saving_a_loaded_original_writes_our_layout(dnabert2_original, tmp_path):
    model = DnaBert2ForMaskedLM.from_pretrained(dnabert2_original)
    model.save_pretrained(tmp_path)
    assert all(key.startswith(("model.", "lm_head.")) for key in load_file(tmp_path / "model.safetensors"))
    assert json.loads((tmp_path / "config.json").read_text())["model_type"] == "dnabert2"
    batch = {"input_ids": torch.tensor([[1, 5, 194, 32, 2]])}
    assert torch.equal(outputs(DnaBert2ForMaskedLM.from_pretrained(tmp_path), batch)[-1], outputs(model, batch)[-1])


# -------------------------------------------------------------------------------- one call, pipelines, demos


@pytest.mark.parametrize(
    ("name", "task", "class_name"),
    [
        ("dnabert2", "fill-mask", "DnaBert2ForMaskedLM"),
        ("dnabert2", "feature-extraction", "DnaBert2Model"),
        ("nt", "fill-mask", "NucleotideTransformerForMaskedLM"),
        ("nt", "sequence-prediction", "NucleotideTransformerForSequencePrediction"),
        ("dnabert2-demo", "token-classification", "DnaBert2ForTokenPrediction"),
        ("nt-demo", "contact-prediction", "NucleotideTransformerForContactPrediction"),
    ],
)
def test_one_call_picks_the_family_and_the_task(name, task, class_name, dnabert2_original, nt_original):
    name = {"dnabert2": dnabert2_original, "nt": nt_original}.get(name, name)
    assert type(multimolecule.from_pretrained(name, task=task)).__name__ == class_name


def test_fill_mask_pipeline_on_originals(dnabert2_original, dnabert2_converted, nt_original):
    model = multimolecule.from_pretrained(dnabert2_original, task="fill-mask")
    tokenizer = multimolecule.tokenizer_from_pretrained(dnabert2_original)
    predictions = pipeline("fill-mask", model=model, tokenizer=tokenizer)("ACGTAGCATCG<mask>GATCTATC", top_k=4)
    expected = multimolecule.pipeline("fill-mask", model=str(dnabert2_converted))("ACGTAGCATCG<mask>GATCTATC", top_k=4)
    assert [p["token"] for p in predictions] == [p["token"] for p in expected]
    assert [p["score"] for p in predictions] == pytest.approx([p["score"] for p in expected], abs=1e-6)
    assert len(multimolecule.pipeline("fill-mask", model=nt_original)("ACCTGA<mask>TTCTGAGTC", top_k=2)) == 2


def test_demo_names_in_from_pretrained():
    model = DnaBert2ForMaskedLM.from_pretrained("dnabert2-demo")
    assert model.config.num_hidden_layers == 4
    assert NucleotideTransformerTokenizer.from_pretrained("nt-demo").model_max_length == 128
    assert multimolecule.NucleotideTransformerConfig.from_pretrained("nt-demo").model_type == "nucleotide_transformer"


def test_command_line_api_loads_originals(dnabert2_original, dnabert2_converted):
    from_original = api.fill_mask(["ACGTAGCATCG<mask>GATCTATC"], model=str(dnabert2_original), top_k=3)
    from_converted = api.fill_mask(["ACGTAGCATCG<mask>GATCTATC"], model=str(dnabert2_converted), top_k=3)
    assert from_original == from_converted
    assert "loads as it is" in api.info(str(dnabert2_original))["format"]


# --------------------------------------------------------------------------------- Hub ids, offline, from a cache

HUB_SCRIPT = """
import json, sys, torch
import multimolecule
from multimolecule import DnaBert2ForMaskedLM, DnaBert2Tokenizer, NucleotideTransformerModel, api
torch.set_grad_enabled(False)  # inference, as the comparison in the test computes it
result = {}
model = DnaBert2ForMaskedLM.from_pretrained(sys.argv[1])
ids = DnaBert2Tokenizer.from_pretrained(sys.argv[1], revision=sys.argv[3])("ACGTAGCATCGG", return_tensors="pt")
result["dnabert2_logits"] = model(**ids).logits.sum().item()
nt = multimolecule.from_pretrained(sys.argv[2], task="feature-extraction", revision=sys.argv[3])
result["nt_class"] = type(nt).__name__
result["nt_hidden"] = nt(torch.tensor([[3, 369, 4102]])).last_hidden_state.sum().item()
top = api.fill_mask(["ACGTAGCATCG<mask>GATC"], model=sys.argv[1], top_k=1)[0][0]["predictions"][0]
result["cli_top"] = top["token"]
result["info"] = api.info(sys.argv[2])["format"]
try:
    DnaBert2ForMaskedLM.from_pretrained(sys.argv[1], revision="v9.9")
except OSError as error:
    result["missing_revision"] = type(error).__name__
print(json.dumps(result))
"""


def hub_cache(root: Path, repo_id: str, source: Path) -> None:
    """The layout huggingface_hub keeps: models--ORG--NAME/{refs/main, snapshots/COMMIT/files}."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / COMMIT
    snapshot.mkdir(parents=True)
    for file in source.iterdir():
        if file.is_file() and not file.name.startswith("reference"):
            shutil.copy(file, snapshot / file.name)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)


def test_hub_ids_load_offline_from_the_cache(dnabert2_original, nt_original, dnabert2_converted, tmp_path):
    hub_cache(tmp_path, DNABERT2_ID, dnabert2_original)
    hub_cache(tmp_path, NT_ID, nt_original)
    root = str(Path(multimolecule.__file__).parents[1])
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path), "HF_HUB_OFFLINE": "1", "PYTHONPATH": root}
    done = subprocess.run(
        [sys.executable, "-c", HUB_SCRIPT, DNABERT2_ID, NT_ID, COMMIT], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])

    model = DnaBert2ForMaskedLM.from_pretrained(dnabert2_converted)
    ids = DnaBert2Tokenizer.from_pretrained(dnabert2_converted)("ACGTAGCATCGG", return_tensors="pt")
    with torch.no_grad():
        assert result["dnabert2_logits"] == pytest.approx(model(**ids).logits.sum().item(), abs=1e-3)
    nt = NucleotideTransformerModel.from_pretrained(nt_original)
    with torch.no_grad():
        assert result["nt_hidden"] == pytest.approx(nt(torch.tensor([[3, 369, 4102]])).last_hidden_state.sum().item())
    assert result["nt_class"] == "NucleotideTransformerModel"
    top = api.fill_mask(["ACGTAGCATCG<mask>GATC"], model=str(dnabert2_original), top_k=1)[0][0]["predictions"][0]
    assert result["cli_top"] == top["token"]
    assert "loads as it is" in result["info"]
    assert result["missing_revision"]


# ------------------------------------------------------------------------------ the older multimolecule layout

# The feed-forward names of the published multimolecule layout and of checkpoints saved by earlier versions.
OLD_NAMES = {
    "dnabert2": {"mlp.gated_layers.": "mlp.up_proj.", "mlp.wo.": "mlp.down_proj."},
    "nucleotide_transformer": {
        "intermediate.dense.": "mlp.up_proj.",
        ".output.dense.": ".mlp.down_proj.",
        "layer_norm.": "mlp.layer_norm.",
    },
}


def with_old_names(source: Path, destination: Path, model_type: str) -> Path:
    """A copy of the converted directory `source` whose encoder layers carry the old feed-forward names."""
    shutil.copytree(source, destination)
    renamed = {}
    for key, tensor in load_file(source / "model.safetensors").items():
        if ".encoder.layer." in key and "attention." not in key:
            for new, old in OLD_NAMES[model_type].items():
                key = key.replace(new, old)
        renamed[key] = tensor
    save_file(renamed, destination / "model.safetensors", metadata={"format": "pt"})
    return destination


@pytest.mark.parametrize("model_type", ["dnabert2", "nucleotide_transformer"])
def test_checkpoints_with_the_old_feed_forward_names_load(model_type, dnabert2_converted, nt_converted, tmp_path):
    """Renamed while loading, the same numbers; saving writes today's names."""
    converted = {"dnabert2": dnabert2_converted, "nucleotide_transformer": nt_converted}[model_type]
    old = with_old_names(converted, tmp_path / "old", model_type)
    assert any("mlp.up_proj" in key for key in load_file(old / "model.safetensors"))
    model_class = MODELS[model_type].masked_lm
    batch = MODELS[model_type].tokenizer.from_pretrained(converted)(DNA, padding=True, return_tensors="pt")
    assert_same_model(model_class, old, converted, batch)
    model_class.from_pretrained(old).save_pretrained(tmp_path / "saved")
    assert set(load_file(tmp_path / "saved" / "model.safetensors")) == set(load_file(converted / "model.safetensors"))


def test_bundled_demos_carry_todays_names():
    for name in ("dnabert2-demo", "nt-demo"):
        keys = set(load_file(demo_model_path(name) / "model.safetensors"))
        assert not any("up_proj" in key or "down_proj" in key for key in keys), name


def test_older_multimolecule_layout_gets_the_tokenizers_pad_id(dnabert2_converted, tmp_path):
    """Its config says pad_token_id 0 (and unk 3) while its tokenizer pads with 3 (and has <unk> at 0); its
    feed-forward layers are `mlp.up_proj` and `mlp.down_proj`."""
    upstream = with_old_names(dnabert2_converted, tmp_path / "upstream", "dnabert2")
    config = json.loads((upstream / "config.json").read_text())
    config.update(pad_token_id=0, unk_token_id=3, null_token_id=5, head=None, lm_head=None, is_decoder=False)
    config["architectures"] = ["DnaBert2ForMaskedLM"]
    (upstream / "config.json").write_text(json.dumps(config))
    tokenizer_config = json.loads((upstream / "tokenizer_config.json").read_text())
    (upstream / "tokenizer_config.json").write_text(
        json.dumps({**tokenizer_config, "tokenizer_class": "PreTrainedTokenizerFast"})
    )

    with pytest.warns(UserWarning, match=r"pad_token_id=0 but the tokenizer's <pad> is 3") as caught:
        model = DnaBert2ForMaskedLM.from_pretrained(upstream)
    assert len(str(caught[0].message).splitlines()) == 1
    assert (model.config.pad_token_id, model.config.unk_token_id) == (3, 0)
    tokenizer = DnaBert2Tokenizer.from_pretrained(upstream)
    batch = tokenizer(DNA, padding=True, return_tensors="pt")
    converted = DnaBert2ForMaskedLM.from_pretrained(dnabert2_converted)
    with torch.no_grad():
        with_mask, without_mask = model(**batch).logits, model(input_ids=batch["input_ids"]).logits
        assert torch.equal(with_mask, converted(**batch).logits)
    mask = batch["attention_mask"].bool()
    assert torch.equal(with_mask[mask], without_mask[mask])


# --------------------------------------------------------------------------------------------------- refusals


def test_refuses_another_architecture(nt_original, tmp_path):
    BertModel(
        BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    ).save_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match=r"holds a 'bert' checkpoint, not a 'dnabert2' one"):
        DnaBert2Model.from_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match=r"holds a 'bert' checkpoint"):
        multimolecule.from_pretrained(tmp_path)
    with pytest.raises(CheckpointError, match=r"Nucleotide Transformer .* checkpoint, not a 'dnabert2' one"):
        DnaBert2ForMaskedLM.from_pretrained(nt_original)


@pytest.fixture
def dnabert2_copy(dnabert2_original, tmp_path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(dnabert2_original, copy)
    return copy


def test_refuses_truncated_weights(dnabert2_copy):
    data = (dnabert2_copy / "pytorch_model.bin").read_bytes()
    (dnabert2_copy / "pytorch_model.bin").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cannot read .*pytorch_model\.bin \(truncated or corrupt\?\)"):
        DnaBert2ForMaskedLM.from_pretrained(dnabert2_copy)


def test_a_legacy_non_zip_bin_loads_as_transformers_loads_it(dnabert2_copy):
    """A `pytorch_model.bin` in the pre-1.6 (non-zip) format, which transformers reads without mmap: the same
    weights as the zip file; `info` counts its parameters too."""
    from multimolecule.api import info

    expected = {k: v.clone() for k, v in DnaBert2ForMaskedLM.from_pretrained(dnabert2_copy).state_dict().items()}
    parameters = info(str(dnabert2_copy))["parameters"]
    state_dict = torch.load(dnabert2_copy / "pytorch_model.bin", weights_only=True)
    torch.save(state_dict, dnabert2_copy / "legacy.bin", _use_new_zipfile_serialization=False)
    os.replace(dnabert2_copy / "legacy.bin", dnabert2_copy / "pytorch_model.bin")  # a new file: the old one is mapped
    assert not zipfile.is_zipfile(dnabert2_copy / "pytorch_model.bin")
    loaded = DnaBert2ForMaskedLM.from_pretrained(dnabert2_copy).state_dict()
    assert loaded.keys() == expected.keys() and all(torch.equal(loaded[k], expected[k]) for k in expected)
    assert info(str(dnabert2_copy))["parameters"] == parameters


def test_refuses_partial_and_unknown_tensors(dnabert2_copy):
    state_dict = torch.load(dnabert2_copy / "pytorch_model.bin", weights_only=True)
    del state_dict["bert.encoder.layer.1.mlp.wo.bias"]
    state_dict["bert.encoder.extra.weight"] = torch.zeros(2)
    torch.save(state_dict, dnabert2_copy / "pytorch_model.bin")
    with pytest.raises(CheckpointError) as error:
        DnaBert2ForMaskedLM.from_pretrained(dnabert2_copy)
    assert "lacks part of model.encoder: model.encoder.layer.1.mlp.wo.bias" in str(error.value)
    assert "does not have: bert.encoder.extra.weight" in str(error.value)


def test_refuses_a_config_that_does_not_match_the_weights(dnabert2_copy):
    config = json.loads((dnabert2_copy / "config.json").read_text())
    (dnabert2_copy / "config.json").write_text(json.dumps({**config, "intermediate_size": 96}))
    with pytest.raises(CheckpointError, match=r"does not match the weights' shapes: .*mlp\.wo\.weight"):
        DnaBert2ForMaskedLM.from_pretrained(dnabert2_copy)


def test_refuses_a_sharded_checkpoint_with_a_missing_shard(dnabert2_converted, tmp_path):
    DnaBert2ForMaskedLM.from_pretrained(dnabert2_converted).save_pretrained(tmp_path, max_shard_size="100KB")
    shard = sorted(tmp_path.glob("model-*.safetensors"))[1]
    shard.unlink()
    with pytest.raises(CheckpointError, match=rf"missing weights file .*{shard.name}"):
        DnaBert2ForMaskedLM.from_pretrained(tmp_path)


def test_remote_code_is_never_executed(dnabert2_copy):
    marker = dnabert2_copy / "executed"
    code = f"open({str(marker)!r}, 'w').write('remote code ran')\n"
    for module in ("configuration_bert.py", "bert_layers.py"):
        (dnabert2_copy / module).write_text(code)
    model = multimolecule.from_pretrained(dnabert2_copy, task="fill-mask", trust_remote_code=True)
    DnaBert2ForMaskedLM.from_pretrained(dnabert2_copy, trust_remote_code=True)
    DnaBert2Tokenizer.from_pretrained(dnabert2_copy, trust_remote_code=True)
    assert type(model) is DnaBert2ForMaskedLM and not marker.exists()
    assert not (dnabert2_copy / "model.safetensors").exists()  # nothing written beside the original


# ---------------------------------------------------------------- a head new to the checkpoint, shape mismatches

NEW_HEADS = [
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


@pytest.mark.parametrize("demo, auto_class", NEW_HEADS)
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


# ------------------------------------------------------------------------------------------ one resolution per load

COUNT_OPENS = """
import collections, json, os, sys
import torch
from multimolecule.models import load_model
load_model("nt-demo")  # imports done
counts = collections.Counter()
def hook(event, args):  # every file Python opens (safetensors and tokenizers read theirs in Rust: not seen here)
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        counts[os.path.basename(os.fsdecode(args[0]))] += 1
loads = collections.Counter()
torch_load = torch.load
def counting_load(file, *args, **kwargs):
    loads[os.path.basename(os.fsdecode(file))] += 1
    return torch_load(file, *args, **kwargs)
torch.load = counting_load
sys.addaudithook(hook)
result = {}
for name in sys.argv[1:]:
    counts.clear(); loads.clear()
    load_model(name, task="feature-extraction")
    result[name] = {"opens": dict(counts), "torch_loads": dict(loads)}
print(json.dumps(result))
"""


def test_a_load_reads_each_file_once(dnabert2_original, nt_original):
    names = [str(dnabert2_original), str(nt_original), "dnabert2-demo", "nt-demo"]
    env = subprocess_env(OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", COUNT_OPENS, *names], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    for name in names:
        opens, loads = result[name]["opens"], result[name]["torch_loads"]
        assert opens.get("config.json", 0) <= 2, (name, opens)
        assert opens.get("tokenizer.json", 0) <= 1 and opens.get("vocab.txt", 0) <= 1, (name, opens)
        assert sum(loads.values()) <= 1, (name, loads)  # the weights: read once (by transformers)
    assert result[str(dnabert2_original)]["torch_loads"] == {"pytorch_model.bin": 1}
