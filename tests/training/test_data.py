"""A dataset's splits read and checked before anything is trained, and encoded for a model (`training/data.py`)."""

from __future__ import annotations

import functools
import re

import pytest
from transformers import AutoTokenizer

import multimolecule
from multimolecule import api
from multimolecule.training import Task, encode_rows, infer_task, read_splits
from multimolecule.utils import InputError

from ..helpers import DEMOS, cli_error, random_dna, write_csv


@pytest.mark.parametrize(
    ("train_rows", "dev_rows", "message"),
    [
        ([("ACGTACGTAA", 0), ("ACGT", "")], None, "row 2.*missing"),
        ([("ACGTACGTAA", 0), ("ACGT", "nan")], None, "missing"),
        ([("ACGTACGTAA", 0), ("ACGT", "enhancer")], None, "mixed label types"),
        ([("ACGTACGTAA", "0001112220"), ("ACGTAC", "0001")], None, "row 2: 4 labels for a sequence of 6 bases"),
        ([("ACGTACGTAA", 1), ("ACGT", 1)], None, "at least two classes"),
        ([("ACGTACGTAA", 0), ("ACGT", 1)], [("ACGT", 2)], "label 2 is not one of the training classes"),
        ([("ACGTACGTAA", 0), ("ACGT", 1)], [], "dev split is empty"),
    ],
)
def test_bad_labels_fail_before_training(capsys, tmp_path, train_rows, dev_rows, message):
    data = tmp_path / "data"
    data.mkdir()
    write_csv(data / "train.csv", "sequence,label", train_rows)
    write_csv(data / "dev.csv", "sequence,label", train_rows if dev_rows is None else dev_rows)
    error = cli_error(capsys, "train", "--data", data, "--output-dir", tmp_path / "out", "-q", status=1)
    assert re.search(message, error), error
    assert not (tmp_path / "out").exists()


def test_shifted_views_keep_per_base_labels_on_their_bases():
    """A view `s` bases in is the sequence from base `s`, with the labels of those bases; each draw picks a view."""
    from multimolecule.training import encode_rows
    from multimolecule.training.data import ShiftedViews

    tokenizer = multimolecule.NucleotideTransformerTokenizer.from_pretrained(api.resolve_name("nt-demo"))
    sequence, labels = "ACGTTGCAAGCTTACGGATC", "01201201201201201201"
    rows = [{"sequence": sequence, "label": labels}, {"sequence": "ACG", "label": "012"}]
    task = infer_task(rows, ["sequence"], ["label"])
    encode = functools.partial(encode_rows, rows, task, tokenizer, 100, tokenizer.token_lengths, "rows")
    views = [encode(shift=shift)[0] for shift in range(6)]
    for shift, view in enumerate(views):
        assert tokenizer.decode(view[0]["input_ids"], skip_special_tokens=True).replace(" ", "") == sequence[shift:]
        assert view[0]["labels"] == [int(c) for c in labels[shift:]]
        assert len(view[1]["labels"]) == len(tokenizer.decode(view[1]["input_ids"], skip_special_tokens=True)) >= 1

    def draws(dataset: ShiftedViews) -> list[int]:
        return [len(dataset[0]["labels"]) for _ in range(60)]

    drawn = draws(ShiftedViews(views, seed=0))
    assert len(ShiftedViews(views, seed=0)) == 2 and set(drawn) == {20, 19, 18, 17, 16, 15}
    assert draws(ShiftedViews(views, seed=0)) == drawn != draws(ShiftedViews(views, seed=1))  # seeded


def test_every_split_is_checked_against_the_task_of_the_training_labels(tmp_path):
    write_csv(tmp_path / "train.csv", "sequence,a,b", [("ACGTAC", 0, 1), ("GGCC", 1, 1)])
    write_csv(tmp_path / "dev.csv", "sequence,a,b", [("ACGT", 1, 0)])
    splits = read_splits(tmp_path, label_column="a, b")  # a comma-separated list, as --label-column takes it
    assert (
        splits.summary() == "task: sequence-level multi-label classification (2 labels: a, b); 2 train, 1 dev sequences"
    )
    assert splits.rows["dev"] == [{"sequence": "ACGT", "a": "1", "b": "0"}]
    write_csv(tmp_path / "dev.csv", "sequence,a", [("ACGT", 1)])
    with pytest.raises(InputError, match=re.escape(f"{tmp_path / 'dev.csv'} has no column 'b' (columns: sequence, a)")):
        read_splits(tmp_path, label_column="a,b")
    write_csv(tmp_path / "dev.csv", "sequence,a,b", [("ACGT", 1, 0), ("GG", "x", 0)])
    with pytest.raises(InputError, match=re.escape(f"{tmp_path / 'dev.csv'}, row 2: expected numbers in a, b, got")):
        read_splits(tmp_path, label_column="a,b")  # every row of every split, before any model is loaded
    write_csv(tmp_path / "dev.csv", "sequence,a,b", [("ACGT", 1, 0), (" ", 0, 0)])
    with pytest.raises(InputError, match=re.escape(f"{tmp_path / 'dev.csv'}, row 2: the sequence is empty")):
        read_splits(tmp_path, label_column="a,b")


def test_a_given_task_is_not_inferred_again(tmp_path):
    """What `evaluate` does: a split with one class is scored against the task the model was trained on."""
    write_csv(tmp_path / "test.csv", "sequence,label", [("ACGT", "1"), ("GGCC", "1")])
    task = Task("sequence", "single_label_classification", 3, ["0", "1", "2"], ["label"], ["sequence"], "value")
    splits = read_splits(tmp_path, require=("test",), task=task)
    assert splits.task is task and list(splits.rows) == ["test"]
    with pytest.raises(InputError, match="every label is '1'; a classification task needs at least two classes"):
        read_splits(tmp_path, require=("test",))


@pytest.mark.parametrize("model", DEMOS)
def test_encoded_rows_are_the_tokenizers_cut_to_the_window(model):
    """Each sequence tokenized (pairs as the tokenizer pairs them), cut to `max_length` tokens, and its per-base
    labels cut to the bases the kept tokens cover; `cut` counts the sequences that lost bases."""
    tokenizer = AutoTokenizer.from_pretrained(api.resolve_name(model))
    sequence = random_dna(40, seed=3)
    rows = [{"sequence": sequence, "label": "01" * 20}, {"sequence": "ACGTTG", "label": "001100"}]
    task = infer_task(rows, ["sequence"], ["label"])
    examples, cut = encode_rows(rows, task, tokenizer, 6, tokenizer.token_lengths, "rows")
    kept = tokenizer(sequence, truncation=True, max_length=6)["input_ids"]
    covered = sum(tokenizer.token_lengths[i] for i in kept)
    assert cut == 1 and len(kept) == 6 and covered < 40
    assert examples[0] == {"input_ids": kept, "labels": [int(c) for c in ("01" * 20)[:covered]]}
    assert examples[1] == {"input_ids": tokenizer("ACGTTG")["input_ids"], "labels": [0, 0, 1, 1, 0, 0]}
    pairs = [
        {"sequence1": "ACGTAC", "sequence2": "TTGGCA", "label": "1"},
        {"sequence1": "AC", "sequence2": "GT", "label": 0},
    ]
    task = infer_task(pairs, ["sequence1", "sequence2"], ["label"])
    examples, cut = encode_rows(pairs, task, tokenizer, 64, tokenizer.token_lengths, "pairs")
    assert cut == 0 and examples[0] == {"input_ids": tokenizer("ACGTAC", "TTGGCA")["input_ids"], "labels": 1}
