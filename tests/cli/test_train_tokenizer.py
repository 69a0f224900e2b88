"""`multimolecule train-tokenizer`: what it prints (the tokenizer's own layout: pretraining/test_tokenizer.py)."""

from __future__ import annotations

import random

from multimolecule import DnaBert2Tokenizer
from multimolecule.cli import main

from ..helpers import cli_error


def test_a_vocabulary_larger_than_the_genome_can_give(capsys, tmp_path):
    """A billion tokens asked of 2,000 bases: bounded by what the bases can give (no allocation failure), with
    a note saying how many came out; nothing but the output is left."""
    rng = random.Random(2)
    (tmp_path / "genome.fa").write_text(">chr1\n" + "".join(rng.choice("ACGT") for _ in range(2000)) + "\n")
    argv = ["train-tokenizer", "--data", str(tmp_path / "genome.fa"), "--vocab-size", "1000000000"]
    assert main([*argv, "-o", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().out.splitlines()
    size = len(DnaBert2Tokenizer.from_pretrained(tmp_path / "out"))
    assert 9 < size <= 9 + 1999
    assert lines == [
        f"wrote {tmp_path / 'out'}: a BPE tokenizer of {size:,} tokens",
        f"note: {size:,} tokens, fewer than the 1,000,000,000 asked for: the genomes (2,000 A/C/G/T bases) give no "
        "more distinct merges",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["genome.fa", "out"]


def test_the_output_folder_is_required(capsys, tmp_path):
    line = cli_error(capsys, "train-tokenizer", "--data", tmp_path / "genome.fa", status=2)
    assert line == "error: give the folder to write the tokenizer to: --output-dir DIR"
