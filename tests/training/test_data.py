"""A dataset's splits read and checked before anything is trained, and encoded for a model (`training/data.py`)."""

from __future__ import annotations

import functools
import re

import pytest

import multimolecule
from multimolecule import api
from multimolecule.training import infer_task

from ..helpers import cli_error, write_csv


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
