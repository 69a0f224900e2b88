"""In-silico mutagenesis: `mutagenesis` writes every SNV of a region as a table and a picture, with one forward pass
per position for `llr`."""

from __future__ import annotations

import pytest

from multimolecule.variants import run_mutagenesis

from ..helpers import example_genome, run_cli, scorer, write_fasta

GENOME = example_genome()


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_mutagenesis_command_writes_table_and_picture(capsys, tmp_path, suffix):
    sequence = GENOME["chrB"][:120]
    target = write_fasta(tmp_path / "s.fa", {"gene": sequence})
    code, out, _ = run_cli(
        capsys, "mutagenesis", f"{target}:11-40", "-o", tmp_path / "ism.tsv", "--plot", tmp_path / f"ism{suffix}", "-q"
    )
    assert code == 0 and "90 SNVs" in out
    lines = (tmp_path / "ism.tsv").read_text().splitlines()
    assert len(lines) == 91 and lines[1].split("\t")[:5] == [
        "gene:11:" + sequence[10] + ":" + lines[1].split("\t")[4],
        "gene",
        "11",
        sequence[10],
        lines[1].split("\t")[4],
    ]
    magic = {".png": b"\x89PNG", ".svg": b"<?xml", ".pdf": b"%PDF"}[suffix]
    assert (tmp_path / f"ism{suffix}").read_bytes().startswith(magic)
    code, _, err = run_cli(capsys, "mutagenesis", f"{target}:200-300", "-o", tmp_path / "other.tsv")
    assert code == 1 and "outside gene (1-120)" in err


def test_mutagenesis_llr_is_one_pass_per_position():
    chosen = scorer("nt-demo", ["llr"])
    result = run_mutagenesis(GENOME["chrC"][:300] + ":101-130", chosen, window=120)
    assert len(result.variants) == 90 and chosen.passes <= 30
