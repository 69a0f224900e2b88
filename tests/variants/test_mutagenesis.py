"""In-silico mutagenesis: the target and region parsed, every SNV of the region in order (none where the base is not
A/C/G/T), and one forward pass per position for `llr` (the command's table and picture: cli/test_mutagenesis.py)."""

from __future__ import annotations

import pytest

from multimolecule.utils import InputError
from multimolecule.variants import parse_target, run_mutagenesis

from ..helpers import GcShift, example_genome, scorer, write_fasta

GENOME = example_genome()


def test_mutagenesis_llr_is_one_pass_per_position():
    chosen = scorer("nt-demo", ["llr"])
    result = run_mutagenesis(GENOME["chrC"][:300] + ":101-130", chosen, window=120)
    assert len(result.variants) == 90 and chosen.passes <= 30


def test_targets_and_regions(tmp_path):
    fasta = write_fasta(tmp_path / "two.fa", {"first": "ACGTACGTAC", "second": "GGGCCCAAAT"})
    assert parse_target("acgtNacgt") == ("seq1", "ACGTNACGT", 1, 9)
    assert parse_target("ACGTACGTAA:3-5") == ("seq1", "ACGTACGTAA", 3, 5)
    assert parse_target(f"{fasta}:2-4") == ("first", "ACGTACGTAC", 2, 4)
    assert parse_target(fasta, record="second") == ("second", "GGGCCCAAAT", 1, 10)
    colon = write_fasta(tmp_path / "sample:1-2", {"only": "ACGTAC"})  # a file whose name looks like a region
    assert parse_target(colon) == ("only", "ACGTAC", 1, 6)
    for target, record, message in [
        ("ACGTACGTAA:0-3", None, r"region 0-3 is outside seq1 \(1-10\)"),
        ("ACGTACGTAA:5-4", None, r"region 5-4 is outside seq1"),
        ("ACGTACGTAA:8-11", None, r"region 8-11 is outside seq1 \(1-10\)"),
        (fasta, "third", r"no record 'third' in .*two.fa \(records: first, second\)"),
        (tmp_path / "missing.fa", None, r"missing.fa is neither a DNA sequence nor a FASTA file"),
    ]:
        with pytest.raises(InputError, match=message):
            parse_target(target, record)


def test_every_snv_of_the_region_in_order():
    """Five-base windows over GACGTTTNAGCT: no SNV at the N (position 8), and the windows of 6, 7 and 9 hold it."""
    counted = GcShift()
    result = run_mutagenesis("GACGTTTNAGCT:2-9", counted, window=5)
    positions = [2, 3, 4, 5, 6, 7, 9]
    refs = dict(zip(positions, "ACGTTTA"))
    assert [v.id for v in result.variants] == [
        f"seq1:{p}:{refs[p]}:{alt}" for p in positions for alt in "ACGT" if alt != refs[p]
    ]
    assert result.statuses == ["ok"] * 12 + ["n-in-window"] * 9 and counted.calls == [12]  # only what is ok
    assert [row["gc_shift"] for row in result.scores[:6]] == [1, 1, 0, -1, 0, -1]  # A->C, A->G, A->T, C->A, ...
    assert result.scores[12:] == [{}] * 9
    with pytest.raises(InputError, match="region 2-3 of seq1 has no A/C/G/T base"):
        run_mutagenesis("GNNC:2-3", GcShift(), window=5)
