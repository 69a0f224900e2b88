"""`multimolecule convert`: every layout of the Nucleotide Transformer originals, and its input errors."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from multimolecule import api

from ..helpers import cli_error, fixture_dir, run_cli


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
