"""DNABERT-S, the second original layout of the DNABERT-2 family, against the original implementation's outputs
(../shared/fixtures/dnabert2/dnabert_s_tiny_a): loaded as it is and converted, its tokenizer, its embedding as
`embed` gives it by default, the refusals of the commands that need a masked-LM head, new heads on it, and by
offline Hub id."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import multimolecule
from multimolecule import DnaBert2ForSequencePrediction, DnaBert2ForTokenPrediction, DnaBert2Model, api
from multimolecule.models.dnabert2.convert_checkpoint import DNABERT_S_LAYOUT, ORIGINAL_LAYOUT
from multimolecule.models.loading_utils import find_layout

from ...helpers import cli_error, fixture_dir, masked_max_diff, run_cli, subprocess_env

HIDDEN_ATOL = 1e-4


@pytest.fixture(scope="module")
def original() -> Path:
    return fixture_dir("dnabert2", "dnabert_s_tiny_a")


@pytest.fixture(scope="module")
def facts(original) -> dict:
    return json.loads((original / "reference.json").read_text())


@pytest.fixture(scope="module")
def converted(original, tmp_path_factory) -> Path:
    return api.convert(original, tmp_path_factory.mktemp("dnabert_s") / "converted").output_path


def test_recognised_as_dnabert_s_not_dnabert2(original):
    config = json.loads((original / "config.json").read_text())
    assert (config["model_type"], config["pad_token_id"]) == ("bert", 0)
    assert find_layout(config) is DNABERT_S_LAYOUT
    dnabert2 = json.loads((fixture_dir("dnabert2", "tiny_a") / "config.json").read_text())
    assert find_layout(dnabert2) is ORIGINAL_LAYOUT


@pytest.mark.parametrize("source", ["original", "converted"])
@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_reproduces_every_reference_tensor(request, source, attn_implementation, reference):
    path = request.getfixturevalue(source)
    for model in (
        multimolecule.from_pretrained(path, attn_implementation=attn_implementation),
        DnaBert2Model.from_pretrained(path, attn_implementation=attn_implementation),
    ):
        assert type(model) is DnaBert2Model
        mask = reference["attention_mask"]
        with torch.no_grad():
            output = model.eval()(reference["input_ids"], attention_mask=mask, output_hidden_states=True)
        assert masked_max_diff(output.hidden_states[0], reference["embedding_output"], mask) < HIDDEN_ATOL
        for index in range(model.config.num_hidden_layers):
            actual = output.hidden_states[index + 1]
            assert masked_max_diff(actual, reference[f"layer_{index}_output"], mask) < HIDDEN_ATOL
        assert masked_max_diff(output.last_hidden_state, reference["last_hidden_state"], mask) < HIDDEN_ATOL
        assert (output.pooler_output - reference["pooled_output"]).abs().max() < HIDDEN_ATOL
        weights = mask[..., None].float()
        mean = (output.last_hidden_state * weights).sum(1) / weights.sum(1)
        assert (mean - reference["mean_embedding"]).abs().max() < HIDDEN_ATOL
        assert torch.allclose(torch.tensor(model.encoder.alibi_slopes), reference["alibi_slopes"])


def test_readme_recipe_each_sequence_alone(original, facts, reference):
    model = multimolecule.from_pretrained(original).eval()
    for row, ids in enumerate(facts["batch"]["input_ids_unpadded"]):
        with torch.no_grad():
            hidden = model(torch.tensor([ids]))[0]  # the README: torch.mean(model(ids)[0][0], dim=0)
        assert (hidden[0].mean(0) - reference["readme_mean_embedding_unbatched"][row]).abs().max() < HIDDEN_ATOL


@pytest.mark.parametrize("source", ["original", "converted"])
def test_tokenizer_gives_the_original_ids(request, source, facts, reference):
    tokenizer = multimolecule.tokenizer_from_pretrained(request.getfixturevalue(source))
    batch = tokenizer(facts["batch"]["dna"], padding="longest", return_tensors="pt")
    assert torch.equal(batch["input_ids"], reference["input_ids"])
    assert torch.equal(batch["attention_mask"], reference["attention_mask"])
    for probe in facts["tokenizer_probes"]:
        text = probe["text"]
        if text == text.upper():  # lower case reads as upper case on purpose (the original gives [UNK])
            assert tokenizer(text)["input_ids"] == probe["input_ids"], text


def test_converted_directory(converted, original):
    config = json.loads((converted / "config.json").read_text())
    assert config["model_type"] == "dnabert2" and config["architectures"] == ["DnaBert2Model"]
    assert (config["pad_token_id"], config["embedding_pooling"]) == (3, "mean-all")
    keys = set(load_file(converted / "model.safetensors"))
    assert {"pooler.dense.weight", "pooler.dense.bias", "encoder.layer.1.attention.self.query.weight"} <= keys
    assert not any(key.startswith("lm_head.") for key in keys)


def test_convert_command(original, tmp_path, capsys):
    code, out, _ = run_cli(capsys, "convert", original, tmp_path / "out")
    assert code == 0 and "DNABERT-S" in out
    assert type(multimolecule.from_pretrained(tmp_path / "out")) is DnaBert2Model


@pytest.mark.parametrize("source", ["original", "converted"])
def test_embed_gives_the_dnabert_s_embedding_by_default(request, source, facts, reference):
    path = str(request.getfixturevalue(source))
    result = api.embed(facts["batch"]["dna"], model=path)
    assert (result.embeddings - reference["mean_embedding"]).abs().max() < HIDDEN_ATOL
    assert result.metadata["pooling"] == "mean-all"
    inner = api.embed(facts["batch"]["dna"], model=path, pooling="mean")  # <cls> and <eos> left out
    assert (inner.embeddings - reference["mean_embedding"]).abs().max() > 1e-2


def test_embed_command_writes_the_dnabert_s_embedding(original, facts, reference, tmp_path, capsys):
    inputs = tmp_path / "dna.txt"
    inputs.write_text("\n".join(facts["batch"]["dna"]) + "\n")
    output = tmp_path / "embeddings.safetensors"
    code, _, _ = run_cli(capsys, "embed", inputs, "-o", output, "-m", original, "-q")
    assert code == 0
    assert (load_file(output)["embeddings"] - reference["mean_embedding"]).abs().max() < HIDDEN_ATOL


@pytest.mark.parametrize("source", ["original", "converted"])
def test_commands_that_need_a_masked_lm_head_refuse_it(request, source, tmp_path, capsys):
    path = request.getfixturevalue(source)
    fasta = tmp_path / "genome.fa"
    fasta.write_text(">chrA\n" + "ACGTAGCATCGGATCTATCTATCGACACTTGGTTATCGATCTACGAGC" * 4 + "\n")
    variants = tmp_path / "variants.tsv"
    variants.write_text("chrA\t10\tC\tA\n")
    commands = [
        ["fill-mask", "ACGT<mask>ACGT", "-m", path],
        ["score-variants", variants, "-r", fasta, "-o", tmp_path / "llr.tsv", "-m", path, "-s", "llr", "-q"],
        ["score-variants", variants, "-r", fasta, "-o", tmp_path / "pll.tsv", "-m", path, "-s", "pll", "-q"],
        ["pretrain", "--data", fasta, "--model", path, "--output-dir", tmp_path / "pretrained", "-q"],
    ]
    for argv in commands:
        assert "has no masked-language-model head" in cli_error(capsys, *argv), argv
    assert not (tmp_path / "pretrained").exists()


@pytest.mark.parametrize("model_class", [DnaBert2ForSequencePrediction, DnaBert2ForTokenPrediction])
def test_prediction_heads_load_from_it(model_class, original, reference):
    encoder = DnaBert2Model.from_pretrained(original).eval()
    model, info = model_class.from_pretrained(original, num_labels=3, output_loading_info=True)
    assert {key.split(".")[0] for key in info["missing_keys"]} == {"classifier"}
    for name, tensor in encoder.state_dict().items():
        if not name.startswith("pooler."):
            assert torch.equal(model.model.state_dict()[name], tensor), name
    task = "sequence-prediction" if model_class is DnaBert2ForSequencePrediction else "token-prediction"
    assert type(multimolecule.from_pretrained(original, task=task, num_labels=3)) is model_class
    with torch.no_grad():
        logits = model.eval()(reference["input_ids"], attention_mask=reference["attention_mask"]).logits
    assert logits.shape[-1] == 3 and torch.isfinite(logits).all()


HUB_SCRIPT = """
import json, sys
import torch
import multimolecule
from multimolecule import api
from safetensors.torch import load_file

model_id, reference_path, texts = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
reference = load_file(reference_path)
model = multimolecule.from_pretrained(model_id).eval()
batch = multimolecule.tokenizer_from_pretrained(model_id)(texts, padding=True, return_tensors="pt")
with torch.no_grad():
    hidden = model(**batch).last_hidden_state
mask = batch["attention_mask"][..., None]
mean = (hidden * mask).sum(1) / mask.sum(1)
embedded = api.embed(texts, model=model_id).embeddings
print(json.dumps({
    "class": type(model).__name__,
    "ids": torch.equal(batch["input_ids"], reference["input_ids"]),
    "mean": (mean - reference["mean_embedding"]).abs().max().item(),
    "embed": (embedded - reference["mean_embedding"]).abs().max().item(),
}))
"""


def test_loads_by_offline_hub_id(original, facts, tmp_path):
    from ..test_loading_utils import hub_cache

    hub_cache(tmp_path, "zhihan1996/DNABERT-S", original)
    env = subprocess_env(HF_HUB_CACHE=str(tmp_path), HF_HUB_OFFLINE="1")
    argv = ["zhihan1996/DNABERT-S", str(original / "reference.safetensors"), json.dumps(facts["batch"]["dna"])]
    done = subprocess.run([sys.executable, "-c", HUB_SCRIPT, *argv], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["class"] == "DnaBert2Model" and result["ids"]
    assert result["mean"] < HIDDEN_ATOL and result["embed"] < HIDDEN_ATOL
