"""`multimolecule.benchmark.baselines`: k-mer frequencies (the `kmer` baseline's features)."""

from __future__ import annotations

import numpy as np
import pytest

from multimolecule.benchmark import baselines


def test_kmer_frequencies_count_every_k():
    features = baselines.kmer_frequencies(["ACGTAC"], (1, 2)).toarray()[0]
    assert features[:4].tolist() == pytest.approx([2 / 6, 2 / 6, 1 / 6, 1 / 6])  # A C G T
    dimers = {"AC": 2, "CG": 1, "GT": 1, "TA": 1}
    expected = np.zeros(16)
    for dimer, count in dimers.items():
        expected[4 * "ACGT".index(dimer[0]) + "ACGT".index(dimer[1])] = count / 5
    assert features[4:] == pytest.approx(expected)
