"""`multimolecule train-tokenizer`: DNABERT-2's BPE tokenizer (its family's recipe) trained on genomes."""

from __future__ import annotations

import json
import random

import pytest
from transformers import AutoTokenizer

from multimolecule import DnaBert2Tokenizer
from multimolecule.cli import main

from ..helpers import fixture_dir


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bpe")
    rng = random.Random(0)
    motifs = ["ATGAAACGC", "TTAGCACCA", "GGCGCGCC", "TATAAT"]
    genome = "".join(rng.choice(motifs) if rng.random() < 0.5 else rng.choice("ACGT") for _ in range(6000))
    (folder / "genome.fa").write_text(">chr1\n" + genome[:20000] + "\n>chr2\n" + genome[20000:] + "NNNN\n")
    assert (
        main(
            [
                "train-tokenizer",
                "--data",
                str(folder / "genome.fa"),
                "--vocab-size",
                "200",
                "--output-dir",
                str(folder / "bpe"),
            ]
        )
        == 0
    )
    return folder / "bpe", genome


def test_layout_and_special_ids_are_dnabert2s(trained):
    path, _ = trained
    tokenizer = AutoTokenizer.from_pretrained(path)
    assert isinstance(tokenizer, DnaBert2Tokenizer) and len(tokenizer) == 200
    assert tokenizer.convert_ids_to_tokens(list(range(9))) == [
        "<unk>",
        "<cls>",
        "<eos>",
        "<pad>",
        "<mask>",
        "A",
        "C",
        "G",
        "T",
    ]
    assert (tokenizer.unk_token_id, tokenizer.cls_token_id, tokenizer.eos_token_id) == (0, 1, 2)
    assert (tokenizer.pad_token_id, tokenizer.mask_token_id) == (3, 4)
    original = json.loads((fixture_dir("dnabert2", "tiny_a") / "tokenizer.json").read_text())
    ours = json.loads((path / "tokenizer.json").read_text())
    assert ours["model"]["type"] == original["model"]["type"] == "BPE"
    assert ours["pre_tokenizer"] == original["pre_tokenizer"]
    first = sorted(original["model"]["vocab"].items(), key=lambda item: item[1])[:9]
    assert [i for _, i in first] == [
        ours["model"]["vocab"][t] for t in ["<unk>", "<cls>", "<eos>", "<pad>", "<mask>", "A", "C", "G", "T"]
    ]


def test_round_trips(trained):
    path, genome = trained
    tokenizer = DnaBert2Tokenizer.from_pretrained(path)
    rng = random.Random(1)
    for _ in range(20):
        start = rng.randrange(len(genome) - 300)
        dna = genome[start : start + rng.randint(1, 300)]
        ids = tokenizer(dna)["input_ids"]
        assert ids[0] == 1 and ids[-1] == 2 and 0 not in ids
        assert "".join(tokenizer.convert_ids_to_tokens(ids[1:-1])) == dna
        assert tokenizer.decode(ids, skip_special_tokens=True) == dna
    assert max(len(t) for t in tokenizer.get_vocab()) > 4  # merges were learnt


def test_a_vocabulary_too_small_for_the_alphabet_and_specials(capsys, tmp_path, trained):
    (tmp_path / "genome.fa").write_text(">chr1\nACGTACGT\n")
    assert (
        main(
            [
                "train-tokenizer",
                "--data",
                str(tmp_path / "genome.fa"),
                "--vocab-size",
                "8",
                "--output-dir",
                str(tmp_path / "out"),
            ]
        )
        == 2
    )
    assert (
        capsys.readouterr().err.strip()
        == "error: --vocab-size must be at least 9 (5 special tokens and the 4 bases), got 8"
    )
    assert not (tmp_path / "out").exists()
