"""The mutagenesis picture: the positions x bases matrix it draws (NaN at the reference), one row of logo and
heatmap per 100 bases at a size that follows from that, and its refusals."""

from __future__ import annotations

import math
import struct

import pytest

from multimolecule.utils import InputError
from multimolecule.variants import Variant, VariantScores
from multimolecule.variants.plot import check_plot, plot_mutagenesis, score_matrix

pytest.importorskip("logomaker")


def mutagenesis(sequence: str, column: str = "llr") -> VariantScores:
    """Every SNV of `sequence` with the score -(position) - (alt's index in ACGT) / 10, in a shuffled order."""
    variants, scores = [], []
    for position, ref in reversed(list(enumerate(sequence, 1))):
        for alt in "TGCA":
            if alt != ref:
                variants.append(Variant(f"s:{position}:{ref}:{alt}", "s", position, ref, alt))
                scores.append({column: -position - "ACGT".index(alt) / 10})
    return VariantScores(variants, ["ok"] * len(variants), scores, [column])


def png_size(path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", header[16:24])


def test_the_matrix_has_a_row_per_position_and_nan_at_the_reference():
    positions, reference, matrix = score_matrix(mutagenesis("GAT"), "llr")
    assert positions == [1, 2, 3] and reference == "GAT"
    expected = [[-1.0, -1.1, None, -1.3], [None, -2.1, -2.2, -2.3], [-3.0, -3.1, -3.2, None]]
    for row, want in zip(matrix, expected):
        for value, wanted in zip(row, want):
            assert math.isnan(value) if wanted is None else value == pytest.approx(wanted)


@pytest.mark.parametrize(("length", "size"), [(10, (900, 450)), (100, (2190, 450)), (150, (2190, 795))])
def test_rows_of_a_hundred_bases_set_the_size(tmp_path, length, size):
    """Width max(6, 0.13 x bases per row + 1.6) inches, height 2.3 inches per row + 0.7, at 150 dpi."""
    sequence = ("ACGTTGCA" * 20)[:length]
    path = plot_mutagenesis(mutagenesis(sequence), tmp_path / "ism.png", title="test")
    assert png_size(path) == size


def test_refusals(tmp_path):
    for name in ("ism.jpg", "ism", "ism.png.gz"):
        with pytest.raises(InputError, match=f"the plot is written as .png, .svg or .pdf, not {name}"):
            check_plot(tmp_path / name)
    check_plot(tmp_path / "ism.PNG")
    with pytest.raises(InputError, match=r"no score 'cosine' to plot \(scores: llr\)"):
        plot_mutagenesis(mutagenesis("ACGT"), tmp_path / "ism.png", column="cosine")
    plot_mutagenesis(mutagenesis("ACGT"), tmp_path / "ism.svg")
    with pytest.raises(InputError, match="output exists"):
        plot_mutagenesis(mutagenesis("ACGT"), tmp_path / "ism.svg")
    assert not (tmp_path / "ism.png").exists()
