"""transformers' own entry points on the published originals (`multimolecule.models.remote_code`): the code users
already have runs on our native classes, with our numbers, and never imports the checkpoint's Python files."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForTokenClassification, AutoTokenizer

import multimolecule
from multimolecule import (
    DnaBert2Config,
    DnaBert2Model,
    DnaBert2Tokenizer,
    NucleotideTransformerForMaskedLM,
    NucleotideTransformerTokenizer,
)
from multimolecule.models.registry import MODELS
from multimolecule.models.remote_code import SWITCH, recognise, sha256

from ..helpers import fixture_dir, masked_max_diff, subprocess_env
from . import client_flows

HIDDEN_ATOL = 1e-4
DNABERT2_ID, NT_ID = "zhihan1996/DNABERT-2-117M", "InstaDeepAI/nucleotide-transformer-v2-100m-multi-species"
COMMIT = "d064dece0000000000000000000000000000abcd"


def plant_original(source: Path, destination: Path) -> Path:
    """A copy of an original fixture with its remote-code files (the modules `auto_map` names) beside it; each
    fails loudly if anything imports it."""
    destination.mkdir(parents=True)
    for file in source.iterdir():
        if file.is_file() and not file.name.startswith("reference"):
            shutil.copy(file, destination / file.name)
    auto_map = json.loads((source / "config.json").read_text())["auto_map"]
    for reference in auto_map.values():
        module = reference.split("--")[-1].rsplit(".", 1)[0]
        (destination / f"{module}.py").write_text(f'raise RuntimeError("the remote code {module}.py was imported")\n')
    return destination


def known(monkeypatch, directory: Path) -> None:
    """Let the planted files stand for the published remote code (their sha256 in the layouts' lists)."""
    for layout in (layout for package in MODELS.values() for layout in package.original_layouts):
        for path in directory.glob("*.py"):
            monkeypatch.setitem(layout.remote_code, sha256(str(path)), "planted for the test")


@pytest.fixture
def dnabert2(tmp_path, monkeypatch) -> Path:
    directory = plant_original(fixture_dir("dnabert2", "tiny_a"), tmp_path / "dnabert2")
    known(monkeypatch, directory)
    return directory


@pytest.fixture
def nt(tmp_path, monkeypatch) -> Path:
    directory = plant_original(fixture_dir("nucleotide_transformer", "nt_v2_tiny_a"), tmp_path / "nt")
    known(monkeypatch, directory)
    return directory


def reference(family: str, name: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(fixture_dir(family, name) / "reference.safetensors")


def no_remote_module_imported() -> bool:
    return not any(module.startswith("transformers_modules") for module in sys.modules)


@pytest.fixture(autouse=True)
def no_remote_module_before():
    """Each test starts with no remote-code module imported (those left to transformers import theirs)."""
    for module in [module for module in sys.modules if module.startswith("transformers_modules")]:
        del sys.modules[module]


# ---------------------------------------------------------------------------------- the client flows, by directory


def test_dnabert2_readme_gives_our_model_and_numbers(dnabert2):
    flow = client_flows.dnabert2_readme(str(dnabert2))
    assert isinstance(flow["model"], DnaBert2Model) and isinstance(flow["tokenizer"], DnaBert2Tokenizer)
    ours = multimolecule.from_pretrained(str(dnabert2)).eval()
    with torch.no_grad():
        expected = ours(flow["inputs"]).last_hidden_state
    assert (flow["hidden_states"] - expected).abs().max().item() <= HIDDEN_ATOL
    assert flow["mean"].shape == flow["max"].shape == (64,)
    batch = reference("dnabert2", "tiny_a")  # and the original's own numbers on its padded batch
    with torch.no_grad():
        hidden = flow["model"](batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    assert masked_max_diff(hidden, batch["last_hidden_state"], batch["attention_mask"].bool()) <= HIDDEN_ATOL
    assert no_remote_module_imported()


def test_dnabert2_readme_bert_config_variant_gives_the_same_model(dnabert2):
    flow = client_flows.dnabert2_readme_bert_config(str(dnabert2))
    assert isinstance(flow["model"], DnaBert2Model) and isinstance(flow["model"].config, DnaBert2Config)
    expected = client_flows.dnabert2_readme(str(dnabert2))["hidden_states"]
    assert torch.equal(flow["hidden_states"], expected)


def test_nt_card_gives_our_model_and_numbers(nt):
    flow = client_flows.nt_card(str(nt))
    assert isinstance(flow["model"], NucleotideTransformerForMaskedLM)
    assert isinstance(flow["tokenizer"], NucleotideTransformerTokenizer)
    assert flow["embeddings"].shape == (2, flow["tokenizer"].model_max_length, 64)
    ours = multimolecule.from_pretrained(str(nt), task="fill-mask").eval()
    mask = flow["tokens_ids"] != flow["tokenizer"].pad_token_id
    with torch.no_grad():
        expected = ours(flow["tokens_ids"], attention_mask=mask).logits
    assert masked_max_diff(flow["logits"].detach(), expected, mask) <= 5e-4
    batch = reference("nucleotide_transformer", "nt_v2_tiny_a")
    with torch.no_grad():
        output = flow["model"](batch["input_ids"], attention_mask=batch["attention_mask"], output_hidden_states=True)
    mask = batch["attention_mask"].bool()
    assert masked_max_diff(output.hidden_states[-1], batch["last_hidden_state"], mask) <= HIDDEN_ATOL
    assert masked_max_diff(output.logits, batch["logits"], mask) <= 5e-4
    assert no_remote_module_imported()


@pytest.mark.parametrize(
    ("family", "r", "layers"),
    [("dnabert2", 8, 2), ("nt", 1, 2)],  # DNABERT-2's train.py --use_lora; the NT fine-tuning notebook
)
def test_lora_on_query_value_trains_the_same_layers(family, r, layers, request, tmp_path):
    directory = request.getfixturevalue(family)
    flow = client_flows.lora_sequence_classification(str(directory), str(tmp_path), r=r, targets=["query", "value"])
    assert len(flow["adapted"]) == 2 * layers  # query and value of every layer, as in the original
    assert all(name.endswith(("attention.self.query", "attention.self.value")) for name in flow["adapted"])
    assert flow["lora_b_trained"] and torch.isfinite(torch.tensor(flow["loss"]))
    assert no_remote_module_imported()


def test_bend_style_per_base_embedding(nt):
    embedding = client_flows.per_base_embedding(str(nt), client_flows.DNA)
    assert embedding.shape == (len(client_flows.DNA), 64)
    # the first six bases are one 6-mer: one vector repeated
    assert torch.equal(embedding[0], embedding[5]) and not torch.equal(embedding[5], embedding[6])


def test_pipelines_by_directory(dnabert2):
    flow = client_flows.pipelines(str(dnabert2))
    assert type(flow["fill_model"]).__name__ == "DnaBert2ForMaskedLM" and len(flow["fill"]) == 3
    assert type(flow["features_model"]).__name__ == "DnaBert2Model"
    assert len(flow["features"][0][0]) == 64
    assert no_remote_module_imported()


def test_auto_classes_without_trust_remote_code(dnabert2, nt):
    assert type(AutoConfig.from_pretrained(dnabert2)).__name__ == "DnaBert2Config"
    assert type(AutoModelForTokenClassification.from_pretrained(dnabert2, num_labels=3)).__name__ == (
        "DnaBert2ForTokenPrediction"
    )
    assert isinstance(AutoTokenizer.from_pretrained(nt), NucleotideTransformerTokenizer)
    assert isinstance(AutoModelForMaskedLM.from_pretrained(nt), NucleotideTransformerForMaskedLM)


def test_demo_names_in_the_auto_classes():
    assert isinstance(AutoModelForMaskedLM.from_pretrained("nt-demo"), NucleotideTransformerForMaskedLM)
    assert isinstance(AutoTokenizer.from_pretrained("dnabert2-demo"), DnaBert2Tokenizer)
    assert recognise(multimolecule.models.loading_utils.Checkpoint.resolve("nt-demo")) == "as a bundled demo"


# ---------------------------------------------------------------------------------------- only what we know


def test_other_remote_code_is_left_to_transformers(tmp_path):
    directory = plant_original(fixture_dir("dnabert2", "tiny_a"), tmp_path / "fork")  # hashes not listed: a fork
    with pytest.raises(RuntimeError, match="remote code .* was imported"):
        AutoModel.from_pretrained(directory, trust_remote_code=True)


def test_the_switch_leaves_everything_to_transformers(dnabert2, monkeypatch):
    monkeypatch.setenv(SWITCH, "0")
    with pytest.raises(RuntimeError, match="was imported"):
        AutoModel.from_pretrained(dnabert2, trust_remote_code=True)


def test_a_checkpoint_without_remote_code_is_recognised_by_its_config():
    checkpoint = multimolecule.models.loading_utils.Checkpoint.resolve(fixture_dir("dnabert2", "tiny_a"))
    assert recognise(checkpoint) == "by its config"


def test_known_remote_code_is_recognised_by_it(dnabert2):
    checkpoint = multimolecule.models.loading_utils.Checkpoint.resolve(dnabert2)
    assert recognise(checkpoint) == "by its remote code"


def test_nt_v1_stays_transformers_esm(v1):
    model = AutoModel.from_pretrained(v1["original"])
    assert type(model).__module__.startswith("transformers.models.esm")


def test_the_replacement_is_logged_once_at_info(dnabert2, caplog):
    with caplog.at_level(logging.INFO, logger="multimolecule.models.remote_code"):
        AutoConfig.from_pretrained(dnabert2, trust_remote_code=True)
        AutoConfig.from_pretrained(dnabert2, trust_remote_code=True)
    lines = [record.getMessage() for record in caplog.records if "loaded by multimolecule's native" in record.message]
    assert len(lines) == 1 and "DnaBert2Config" in lines[0] and f"{SWITCH}=0" in lines[0]


# ------------------------------------------------------------------------------- the same flows by Hub id, offline


def hub_cache(root: Path, repo_id: str, source: Path) -> None:
    """The layout huggingface_hub keeps: models--ORG--NAME/{refs/main, snapshots/COMMIT/files}."""
    repo = root / f"models--{repo_id.replace('/', '--')}"
    shutil.copytree(source, repo / "snapshots" / COMMIT)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)


def test_client_flows_by_offline_hub_id(dnabert2, nt, tmp_path):
    cache = tmp_path / "hub"
    hub_cache(cache, DNABERT2_ID, dnabert2)
    hub_cache(cache, NT_ID, nt)
    new_families = {  # Hub id -> the fixture standing for it
        "zhihan1996/DNABERT-S": ("dnabert2", "dnabert_s_tiny_a"),
        "InstaDeepAI/NTv3_8M_pre": ("ntv3", "ntv3_tiny_a"),
        "InstaDeepAI/NTv3_100M_post": ("ntv3", "ntv3_post_tiny_a"),
    }
    directories = [dnabert2, nt]
    for hub_id, fixture in new_families.items():
        directories.append(plant_original(fixture_dir(*fixture), tmp_path / fixture[1]))
        hub_cache(cache, hub_id, directories[-1])
    planted = tmp_path / "planted"
    planted.mkdir()
    for path in (path for directory in directories for path in directory.glob("*.py")):
        shutil.copy(path, planted / path.name)
    env = subprocess_env(HF_HUB_CACHE=str(cache), HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1")
    command = [
        sys.executable,
        "-m",
        "tests.models.client_flows",
        DNABERT2_ID,
        NT_ID,
        *new_families,
        str(tmp_path / "out"),
        str(planted),
    ]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["classes"] == ["DnaBert2Model", "DnaBert2Model", "NucleotideTransformerForMaskedLM"]
    assert result["tokenizers"] == ["DnaBert2Tokenizer", "NucleotideTransformerTokenizer"]
    by_directory = client_flows.dnabert2_readme(str(dnabert2))["hidden_states"]
    assert (torch.tensor(result["readme_hidden"]) - by_directory).abs().max().item() <= HIDDEN_ATOL
    assert result["readme_hidden"] == result["variant_hidden"]
    assert result["lora_adapted"] == [4, 4] and result["lora_trained"] == [True, True]
    assert len(result["fill_top"]) == 3 and result["per_base"] == [len(client_flows.DNA), 64]
    assert result["new_families"] == [
        "DnaBert2Model",
        "NucleotideTransformerV3ForMaskedLM",
        "NucleotideTransformerV3ForTrackPrediction",
        "NucleotideTransformerV3Tokenizer",
    ]
    assert result["remote_modules"] == []


# ---------------------------------------------------------------------------------------- the new families too


def test_dnabert_s_readme_gives_its_embedding(tmp_path, monkeypatch):
    directory = plant_original(fixture_dir("dnabert2", "dnabert_s_tiny_a"), tmp_path / "dnabert_s")
    known(monkeypatch, directory)
    batch = reference("dnabert2", "dnabert_s_tiny_a")
    model = AutoModel.from_pretrained(directory, trust_remote_code=True)
    assert isinstance(model, DnaBert2Model) and isinstance(AutoTokenizer.from_pretrained(directory), DnaBert2Tokenizer)
    with torch.no_grad():
        hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])[0]
    mask = batch["attention_mask"][..., None].float()
    mean = (hidden * mask).sum(1) / mask.sum(1)  # the DNABERT-S embedding
    assert (mean - batch["mean_embedding"]).abs().max().item() <= HIDDEN_ATOL
    assert no_remote_module_imported()


def test_ntv3_pre_and_post_trained_by_auto_classes(tmp_path, monkeypatch):
    pre = plant_original(fixture_dir("ntv3", "ntv3_tiny_a"), tmp_path / "pre")
    post = plant_original(fixture_dir("ntv3", "ntv3_post_tiny_a"), tmp_path / "post")
    known(monkeypatch, pre)
    known(monkeypatch, post)
    model = AutoModelForMaskedLM.from_pretrained(pre, trust_remote_code=True).eval()
    assert type(model).__name__ == "NucleotideTransformerV3ForMaskedLM"
    assert type(AutoTokenizer.from_pretrained(pre, trust_remote_code=True)).__name__ == (
        "NucleotideTransformerV3Tokenizer"
    )
    batch = reference("ntv3", "ntv3_tiny_a")
    with torch.no_grad():
        assert (model(batch["input_ids"]).logits - batch["logits"]).abs().max().item() <= 5e-4
    tracks = AutoModel.from_pretrained(post, trust_remote_code=True).eval()  # the original's AutoModel: with tracks
    assert type(tracks).__name__ == "NucleotideTransformerV3ForTrackPrediction"
    batch = reference("ntv3", "ntv3_post_tiny_a")
    with torch.no_grad():
        output = tracks(batch["input_ids"], species_ids=batch["human.species_ids"])
    assert (output.tracks - batch["human.bigwig_tracks_logits"]).abs().max().item() <= 5e-4
    assert no_remote_module_imported()
