"""`multimolecule score-variants`: the table it writes, what it prints, and its one-line refusals."""

from __future__ import annotations

import pytest

from ..helpers import example_genome, run_cli, write_fasta, write_tsv

GENOME = example_genome()


@pytest.fixture(scope="module")
def fasta(tmp_path_factory):
    return write_fasta(tmp_path_factory.mktemp("genome") / "genome.fa", GENOME)


def test_score_variants_command(capsys, tmp_path, fasta):
    a = GENOME["chrB"]
    variants = write_tsv(tmp_path / "v.tsv", [("chrB", 100, a[99], "A,C,G,T"), ("chrQ", 3, "A", "C")])
    output = tmp_path / "scores.tsv"
    argv = ["score-variants", variants, "-r", fasta, "-o", output, "-m", "nt-demo", "-s", "llr", "-s", "cosine", "-q"]
    code, out, _ = run_cli(capsys, *argv, "--window", 60)
    assert code == 0 and "5 alleles (4 ok, 1 contig-not-found)" in out
    header = output.read_text().splitlines()[0].split("\t")
    assert header == ["id", "chrom", "pos", "ref", "alt", "status", "llr", "cosine", "cosine_variant"]
    code, _, err = run_cli(capsys, *argv)
    assert code == 1 and err.strip().startswith("error: output exists")
    code, _, err = run_cli(capsys, *argv[:-3], "-s", "head", "--overwrite")
    assert code == 2 and "needs a model fine-tuned" in err and len(err.strip().splitlines()) == 1
    code, _, err = run_cli(capsys, "score-variants", variants, "-r", fasta, "-o", tmp_path / "x.csv")
    assert code == 1 and ".tsv or .vcf" in err
