"""Genomes read from FASTA files and folders, streamed into training windows on both strands, and the fixed
held-out windows."""

from __future__ import annotations

import gzip
import random

import pytest

from multimolecule import NucleotideTransformerTokenizer
from multimolecule.pretraining import (
    GenomeWindows,
    HeldOut,
    genome_files,
    read_contigs,
)
from multimolecule.seqio import revcomp
from multimolecule.utils import InputError

WINDOW = 11  # <cls> + 10 six-mers: 60 bases


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    """Two random contigs (gzip), the first with a run of N and lower case; {name: sequence} and the folder."""
    rng = random.Random(0)
    contigs = {
        "chr1": "".join(rng.choice("ACGT") for _ in range(3000)),
        "chr2": "".join(rng.choice("ACGT") for _ in range(2000)),
    }
    folder = tmp_path_factory.mktemp("genome")
    text = ""
    for name, sequence in contigs.items():
        shown = sequence[:1000] + "NNNNN" + sequence[1005:] if name == "chr1" else sequence.lower()
        text += f">{name} description\n" + "".join(shown[i : i + 70] + "\n" for i in range(0, len(shown), 70))
    with gzip.open(folder / "genome.fa.gz", "wt") as handle:
        handle.write(text)
    (folder / "notes.txt").write_text("not a genome")
    contigs["chr1"] = contigs["chr1"][:1000] + "NNNNN" + contigs["chr1"][1005:]
    return contigs, folder


def window_dna(tokenizer, window) -> str:
    return "".join(tokenizer.convert_ids_to_tokens(window["input_ids"][1:]))


def test_contigs_stream_from_gzip_folders(genome):
    contigs, folder = genome
    files = genome_files(folder)
    assert [f.name for f in files] == ["genome.fa.gz"]  # the text file is not a FASTA name
    assert dict(read_contigs(files[0])) == {name: sequence.upper() for name, sequence in contigs.items()}


def test_training_windows_cover_both_strands_with_new_offsets_each_epoch(genome):
    contigs, folder = genome
    tokenizer = NucleotideTransformerTokenizer.standard()
    held_out = HeldOut(fraction=0.1)
    windows = GenomeWindows(genome_files(folder), tokenizer, WINDOW, "train", held_out, seed=3)
    train_parts = {name: s[: len(s) - int(len(s) * 0.1)] for name, s in contigs.items()}
    epochs = []
    for epoch in range(2):
        windows.set_epoch(epoch)
        dna = [window_dna(tokenizer, w) for w in windows]
        assert all(len(w["input_ids"]) <= WINDOW for w in windows)
        forward = [d for d in dna if any(d in part for part in train_parts.values())]
        reverse = [d for d in dna if any(revcomp(d) in part for part in train_parts.values())]
        assert len(forward) + len(reverse) == len(dna)  # every window is training DNA, on one strand or the other
        assert 0.3 < len(reverse) / len(dna) < 0.7
        assert not any("N" in d for d in dna)
        epochs.append(dna)
    assert epochs[0] != epochs[1]  # new offsets and strands
    windows.set_epoch(0)
    assert [window_dna(tokenizer, w) for w in windows] == epochs[0]  # seeded by the epoch


def test_held_out_windows_are_fixed_and_disjoint_from_training(genome):
    contigs, folder = genome
    tokenizer = NucleotideTransformerTokenizer.standard()
    files = genome_files(folder)
    held = GenomeWindows(files, tokenizer, WINDOW, "eval", HeldOut(fraction=0.1), shuffle=False)
    tails = [s[len(s) - int(len(s) * 0.1) :] for s in contigs.values()]
    dna = [window_dna(tokenizer, w) for w in held]
    assert dna == [window_dna(tokenizer, w) for w in held]
    assert "".join(dna) == "".join(tails)  # consecutive windows from the start of each tail
    by_name = GenomeWindows(files, tokenizer, WINDOW, "eval", HeldOut(frozenset({"chr2"})), shuffle=False)
    assert "".join(window_dna(tokenizer, w) for w in by_name) == contigs["chr2"]


def test_a_missing_genome_is_one_clear_error(tmp_path):
    with pytest.raises(InputError, match="genome file not found"):
        genome_files(tmp_path / "missing.fa")
    with pytest.raises(InputError, match="no FASTA files"):
        genome_files(tmp_path)
