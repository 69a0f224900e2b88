"""`multimolecule fill-mask`: the predictions as JSON and as a table, from arguments or a file, ids kept, and its
input errors."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from multimolecule import api

from ..helpers import DEMOS, MASKED, cli_error, run_cli


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


@pytest.mark.parametrize("spelling", ["[MASK]", "<MASK>", "[mask]"])
def test_mask_lookalikes_name_the_mask_token(capsys, spelling):
    line = cli_error(capsys, "fill-mask", f"ACGTACGT{spelling}ACGTACGT")
    assert spelling in line and "the mask token is <mask>" in line


def test_fill_mask_file_keeps_ids_and_does_not_echo(capsys, tmp_path):
    long = "ACGTTGCAAC" * 2000
    path = tmp_path / "masked.fa"
    path.write_text(f">geneA\n{MASKED}\n>geneB some description\n{long[:10000]}<mask>{long[10000:]}\n")
    code, out, err = run_cli(capsys, "fill-mask", "--input", str(path), "-k", "3")
    assert code == 0, err
    assert re.search(r"^geneA\s+mask 1 of 1", out, re.M) and re.search(r"^geneB\s+mask 1 of 1", out, re.M)
    assert len(out) < 2000  # context around each mask, not the 20 kbp input per prediction
    code, out, _ = run_cli(capsys, "fill-mask", "--input", str(path), "--json")
    assert [masks[0]["id"] for masks in json.loads(out)] == ["geneA", "geneB"] and len(out) < 10000
