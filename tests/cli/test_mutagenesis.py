"""`multimolecule mutagenesis`: the table and picture it writes, and its one-line refusals."""

from __future__ import annotations

import pytest

from ..helpers import cli_error, example_genome, run_cli, write_fasta

GENOME = example_genome()


@pytest.mark.parametrize("suffix", [".png", ".svg", ".pdf"])
def test_mutagenesis_command_writes_table_and_picture(capsys, tmp_path, suffix):
    sequence = GENOME["chrB"][:120]
    target = write_fasta(tmp_path / "s.fa", {"gene": sequence})
    code, out, _ = run_cli(
        capsys, "mutagenesis", f"{target}:11-40", "-o", tmp_path / "ism.tsv", "--plot", tmp_path / f"ism{suffix}", "-q"
    )
    assert code == 0 and "90 SNVs (90 ok)" in out
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


def test_mutagenesis_needs_an_output_or_a_plot(capsys):
    line = cli_error(capsys, "mutagenesis", "ACGTACGTAC:2-4", status=1)
    assert line == "error: give an output (-o ism.tsv), a plot (--plot ism.png) or both"
