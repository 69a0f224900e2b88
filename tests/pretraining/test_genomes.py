"""Genomes streamed into windows, and the model cards' masking."""

from __future__ import annotations

import gzip
import random

import pytest
import torch

from multimolecule import NucleotideTransformerTokenizer
from multimolecule.pretraining import (
    DataCollatorForMaskedDNA,
    GenomeWindows,
    HeldOut,
    MaskedWindows,
    dna_token_ids,
    genome_files,
    mask_tokens,
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


def test_masking_follows_the_model_cards():
    """15% of the DNA tokens chosen; of those 80% <mask>, 10% a different DNA token, 10% unchanged."""
    tokenizer = NucleotideTransformerTokenizer.standard()
    candidates = dna_token_ids(tokenizer)
    generator = torch.Generator().manual_seed(0)
    ids = candidates[torch.randint(len(candidates), (400, 250), generator=generator)]
    ids[:, 0] = tokenizer.cls_token_id
    ids[:, -10:] = tokenizer.pad_token_id
    inputs, labels = mask_tokens(ids, candidates, tokenizer.mask_token_id, 0.15, generator)
    chosen = labels != -100
    dna = 400 * 239
    assert not chosen[:, 0].any() and not chosen[:, -10:].any()
    assert torch.equal(labels[chosen], ids[chosen]) and torch.equal(inputs[~chosen], ids[~chosen])
    n = int(chosen.sum())
    assert abs(n / dna - 0.15) < 4 * (0.15 * 0.85 / dna) ** 0.5
    masked = inputs[chosen] == tokenizer.mask_token_id
    kept = inputs[chosen] == ids[chosen]
    replaced = ~masked & ~kept
    for share, expected in ((masked, 0.8), (replaced, 0.1), (kept, 0.1)):
        assert abs(float(share.float().mean()) - expected) < 4 * (expected * (1 - expected) / n) ** 0.5
    assert torch.isin(inputs[chosen][replaced], candidates).all()


def test_collator_masks_training_windows_and_keeps_held_out_masks():
    tokenizer = NucleotideTransformerTokenizer.standard()
    windows = [{"input_ids": tokenizer("ACGTAC" * n)["input_ids"]} for n in (30, 20)]
    collator = DataCollatorForMaskedDNA(tokenizer)
    batch = collator(windows)
    assert batch["input_ids"].shape == batch["labels"].shape == (2, 31)
    assert (batch["labels"][1, 21:] == -100).all() and (batch["attention_mask"][1, 21:] == 0).all()
    held = list(MaskedWindows(windows, tokenizer, 0.5, seed=1))
    assert held == list(MaskedWindows(windows, tokenizer, 0.5, seed=1))  # the same positions every evaluation
    chosen = torch.tensor(held[0]["labels"]) != -100
    assert (torch.tensor(held[0]["input_ids"])[chosen] == tokenizer.mask_token_id).all()  # all <mask> to score
    again = collator(held)
    assert again["labels"][0].tolist() == held[0]["labels"]


def test_a_missing_genome_is_one_clear_error(tmp_path):
    with pytest.raises(InputError, match="genome file not found"):
        genome_files(tmp_path / "missing.fa")
    with pytest.raises(InputError, match="no FASTA files"):
        genome_files(tmp_path)
