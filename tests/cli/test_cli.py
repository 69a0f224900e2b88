"""The `multimolecule` command line and `multimolecule.api`, on the bundled demo models."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open
from transformers.testing_utils import CaptureLogger
from transformers.utils import logging

from multimolecule import api
from multimolecule.cli import main
from multimolecule.demo import EXAMPLE_FASTA, demo_model_path
from multimolecule.modules import load_report

from ..helpers import cli_error, fixture_dir, random_dna, run_cli

DEMOS = [
    pytest.param(name, marks=pytest.mark.skipif(not (demo_model_path(name) / "config.json").is_file(), reason="absent"))
    for name in ("dnabert2-demo", "nt-demo")
]
MASKED = "ATGAAACGCATTAGCACCACCATTACCACC<mask>CATCACCATTACCACAGGTAACGGTGCGGGC"


# ------------------------------------------------------------------------------------------------ fill-mask


@pytest.mark.parametrize("model", DEMOS)
def test_fill_mask_json(capsys, model):
    two_masks = "acgtacgatc<mask>ttagc<mask>gcatgca"
    code, out, _ = run_cli(capsys, "fill-mask", MASKED, two_masks, "-m", model, "-k", "4", "--json")
    assert code == 0
    results = json.loads(out)
    assert [len(masks) for masks in results] == [1, 2]
    for masks in results:
        for entry in masks:
            assert sum(entry["base_probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
            assert len(entry["predictions"]) == 4
            scores = [p["score"] for p in entry["predictions"]]
            assert scores == sorted(scores, reverse=True) and 0 < sum(scores) <= 1 + 1e-6
            assert "sequence" not in entry  # the input is not echoed
            for prediction in entry["predictions"]:
                assert re.fullmatch("[ACGT]+", prediction["token"])
                assert re.fullmatch(r"[ACGT]+(\.\.\.)?", prediction["context"])  # plain DNA, every mask filled
    assert [[entry["id"] for entry in masks] for masks in results] == [["seq1"], ["seq2", "seq2"]]
    first = results[0][0]["predictions"][0]
    prefix, suffix = MASKED.split("<mask>")
    assert first["context"] == prefix + first["token"] + suffix[:30] + "..."
    assert results[0][0]["context"] == prefix + "<mask>" + suffix[:30] + "..."
    # the Python API also returns the whole filled sequence
    (entry,) = api.fill_mask({"gene": MASKED}, model=model, top_k=1)[0]
    assert (
        entry["id"] == "gene"
        and entry["predictions"][0]["sequence"] == prefix + entry["predictions"][0]["token"] + suffix
    )


def test_fill_mask_table_and_file(capsys, tmp_path):
    path = tmp_path / "masked.txt"
    path.write_text(MASKED + "\n")
    code, out, err = run_cli(capsys, "fill-mask", "--input", str(path), "-k", "2")
    assert code == 0, err
    assert "first base: A" in out and "  1. " in out and "  2. " in out


def test_fill_mask_needs_a_mask(capsys):
    assert re.search("no <mask>", cli_error(capsys, "fill-mask", "ACGTACGT"))


# ---------------------------------------------------------------------------------------------------- embed


@pytest.mark.parametrize("model", DEMOS)
def test_embed_safetensors_per_base(capsys, tmp_path, model):
    output = tmp_path / "out.safetensors"
    code, out, err = run_cli(capsys, "embed", str(EXAMPLE_FASTA), "-o", str(output), "--per-base", "-m", model, "-q")
    assert code == 0, err
    lengths = [len(s) for s in api.read_sequences(EXAMPLE_FASTA).values()]
    with safe_open(output, "pt") as file:
        ids = json.loads(file.metadata()["ids"])
        embeddings = file.get_tensor("embeddings")
        per_base = [file.get_tensor(f"per_base.{i}") for i in range(len(ids))]
    hidden = api.info(model)["hidden_size"]
    assert len(ids) == len(lengths) and embeddings.shape == (len(lengths), hidden)
    assert [len(x) for x in per_base] == lengths  # one vector per base, windows stitched for the long records
    assert all(torch.isfinite(x).all() for x in [embeddings, *per_base])
    assert "wrote" in out


@pytest.mark.parametrize("model", DEMOS)
def test_embedding_models_load_without_a_warning(model):
    """The engines' loader builds no pooler (DNABERT-2's would be random and is never used) and says nothing of
    the masked-LM head it drops, as expected: a warning only where something is wrong."""
    with (
        CaptureLogger(load_report.logger) as ours,
        CaptureLogger(logging.get_logger("transformers.modeling_utils")) as theirs,
    ):
        network, _ = api.load_model(model, task="feature-extraction")
    assert ours.out == theirs.out == "" and getattr(network, "pooler", None) is None


def test_embed_npy_npz_gzip_and_order(tmp_path):
    sequences = {"long": random_dna(900, 1), "short": "ACGTTGCA", "mid": random_dna(200, 2)}
    fasta = tmp_path / "in.fa.gz"
    fasta.write_bytes(gzip.compress("".join(f">{k} description\n{v}\n" for k, v in sequences.items()).encode()))
    assert main(["embed", str(fasta), "-o", str(tmp_path / "a.npy"), "-q", "--batch-size", "2"]) == 0
    matrix = np.load(tmp_path / "a.npy")
    reference = api.embed(list(sequences.values()), batch_size=1).embeddings.numpy()  # unsorted, one at a time
    np.testing.assert_allclose(matrix, reference, atol=1e-4)  # order restored after sorting by length
    assert main(["embed", str(fasta), "-o", str(tmp_path / "a.npz"), "--per-base", "--pooling", "cls", "-q"]) == 0
    archive = np.load(tmp_path / "a.npz")
    assert list(archive["ids"]) == list(sequences)
    assert [archive[f"per_base.{i}"].shape[0] for i in range(3)] == [900, 8, 200]


# ------------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "content, pattern",
    [
        (b"", "no sequences"),
        (b"\n\n", "no sequences"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "not a text FASTA"),
        (b"name,value\nx,1\n", "not a DNA sequence"),
        (b">only_symbols\n%%%%-----\n", "not a DNA sequence"),
        (b">only_n\nNNNNNNNN\n", "no A/C/G/T"),
        (b">empty\n>next\nACGT\n", "empty"),
    ],
)
def test_embed_bad_input(capsys, tmp_path, content, pattern):
    source, output = tmp_path / "input.fa", tmp_path / "out.safetensors"
    source.write_bytes(content)
    assert re.search(pattern, cli_error(capsys, "embed", source, "-o", output, "-q"))
    assert list(tmp_path.iterdir()) == [source]  # nothing partial left


def test_bad_arguments_leave_nothing(capsys, tmp_path):
    output = tmp_path / "out.npy"
    assert re.search(".npy", cli_error(capsys, "embed", str(EXAMPLE_FASTA), "-o", str(output), "--per-base", "-q"))
    assert re.search("not found", cli_error(capsys, "embed", str(tmp_path / "missing.fa"), "-o", str(output)))
    assert re.search("unsupported", cli_error(capsys, "embed", str(EXAMPLE_FASTA), "-o", str(tmp_path / "x.csv")))
    assert not list(tmp_path.iterdir())


def test_missing_model_directory_subprocess(tmp_path):
    """Through the real entry point: one line on stderr, non-zero status, no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "multimolecule", "fill-mask", "AC<mask>GT", "--model", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().startswith("error: model not found") and "\n" not in result.stderr.strip()


# ------------------------------------------------------------------------------------------- convert, info


def test_convert_errors(capsys, tmp_path):
    assert re.search(
        "not found",
        cli_error(capsys, "convert", "-m", str(tmp_path / "missing"), "--output-dir", str(tmp_path / "out")),
    )
    (tmp_path / "unknown").mkdir()
    assert re.search(
        "cannot tell",
        cli_error(capsys, "convert", "-m", str(tmp_path / "unknown"), "--output-dir", str(tmp_path / "out")),
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("model", DEMOS)
def test_info_demo(capsys, model):
    code, out, _ = run_cli(capsys, "info", "-m", model)
    assert code == 0
    assert re.search(r"parameters\s+[\d,]+", out) and re.search(r"trained_length\s+\d+", out)
    details = api.info(model)
    assert details["format"] == "multimolecule" and details["trained_length"] == 128
    assert 0 <= details["baseline_accuracy"] <= 1 and 0 <= details["held_out_accuracy"] <= 1


def nucleotide_transformer_layout(layout: str, root: Path) -> Path:
    """The NT fixture as InstaDeep publishes it on the Hub (`hf`), its `jax_model/` folder, a repository holding
    only `jax_model/`, or a v1-style native transformers ESM checkpoint (random weights) with its vocabulary."""
    fixture = fixture_dir("nucleotide_transformer", "nt_v2_tiny_a")
    if layout == "hf":
        return fixture
    if layout == "jax":
        return fixture / "jax_model"
    if layout == "jax-repository":
        shutil.copytree(fixture / "jax_model", root / "repository" / "jax_model")
        return root / "repository"
    from transformers import EsmConfig, EsmForMaskedLM

    config = EsmConfig(
        vocab_size=4107, hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=48,
        max_position_embeddings=66, position_embedding_type="absolute", pad_token_id=1, mask_token_id=2,
    )  # fmt: skip
    EsmForMaskedLM(config).save_pretrained(root / "esm")
    shutil.copy(fixture / "vocab.txt", root / "esm" / "vocab.txt")
    return root / "esm"


@pytest.mark.parametrize(
    "layout, reported", [("hf", "pytorch"), ("jax", "jax"), ("jax-repository", "jax"), ("esm", "pytorch")]
)
def test_convert_nucleotide_transformer_layouts(capsys, tmp_path, layout, reported):
    source = nucleotide_transformer_layout(layout, tmp_path)
    assert api.detect_model(source) == "nucleotide_transformer"
    code, out, err = run_cli(capsys, "convert", "-m", str(source), "--output-dir", str(tmp_path / "out"))
    assert code == 0, err
    assert f"converted the nucleotide_transformer {reported} checkpoint -> {tmp_path / 'out'}" in out
    details = api.info(str(tmp_path / "out"))
    assert details["model_type"] == "nucleotide_transformer" and details["format"] == "multimolecule"
    network, tokenizer = api.load_model(str(tmp_path / "out"))
    assert network(**tokenizer("ACGTACGTACGT", return_tensors="pt")).logits.shape[-1] == len(tokenizer)
