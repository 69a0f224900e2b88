"""Reading sequences: what is not FASTA or plain lines is named, with its line."""

from __future__ import annotations

import pytest

from multimolecule import api
from multimolecule.utils import InputError


def test_fastq_and_line_numbers(tmp_path):
    fastq = tmp_path / "reads.fq"
    fastq.write_text("@read1\nACGTACGT\n+\nIIIIIIII\n")
    with pytest.raises(InputError, match="FASTQ"):
        api.read_sequences(fastq)
    lines = tmp_path / "lines.txt"
    lines.write_text("ACGT\n\n\nACGT\n>header\n")
    with pytest.raises(InputError, match="line 5 is a FASTA header"):
        api.read_sequences(lines)
