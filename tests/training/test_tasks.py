"""What a labelled table asks for (`training/tasks.py`): the task inferred from the labels, and its description."""

from __future__ import annotations

import json
import re

import pytest

from multimolecule.training import infer_task, read_splits
from multimolecule.training.tasks import Task, encode_label, parse_value, resolve_columns
from multimolecule.utils import InputError


@pytest.mark.parametrize(
    ("header", "rows", "expected"),
    [
        ("sequence,label", [("ACGTACGTAA", 0), ("ACGTTTGTAA", 1)], "sequence-level binary classification"),
        ("sequence,label", [("ACGTACGTAA", 0), ("ACGTTTGTAA", 2), ("AAAA", 1)], "sequence-level multiclass"),
        ("sequence,label", [("ACGTACGTAA", "enhancer"), ("ACGTTTGTAA", "other")], "binary classification"),
        ("sequence,label", [("ACGTACGTAA", 0.5), ("ACGTTTGTAA", 1)], "sequence-level regression"),
        ("sequence,a,b", [("ACGTACGTAA", 0, 1), ("ACGTTTGTAA", 1, 1)], "multi-label classification"),
        ("sequence,a,b", [("ACGTACGTAA", 0.5, 1), ("ACGTTTGTAA", 1, 2)], "regression (2 outputs"),
        ("sequence1,sequence2,label", [("ACGTAC", "GGTA", 0), ("ACGT", "AA", 1)], "sequence-level binary"),
        ("sequence,label", [("ACGTACGTAA", "0001112220"), ("acgun", "00110")], "per-base multiclass"),
        ("sequence\tlabel", [("ACGTACGTAA", "[0.5, 1, 0, 0, 0, 0, 0, 0, 0, 1]")], "per-base regression"),
        ("sequence\tlabel", [("ACGTACGTAA", "[[0, 9], [1, 8]]")], "base-pair (contact) binary"),
        ("sequence\tlabel", [("ACGTAC", "[0, 1, 1, 0, 0, 1]")], "per-base binary classification (2 classes: 0, 1)"),
        ("sequence,label", [("ACGT", i) for i in range(12)], "(12 classes: 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, ...)"),
    ],
)
def test_task_inference(tmp_path, header, rows, expected):
    separator = "\t" if "\t" in header else ","
    path = tmp_path / ("train.tsv" if separator == "\t" else "train.csv")
    path.write_text(header + "\n" + "".join(separator.join(map(str, row)) + "\n" for row in rows))
    splits = read_splits(train=path, require=("train",))
    assert expected in splits.task.describe()


def test_infer_task_is_importable_for_python_users():
    rows = [{"sequence": "ACGTACGTAC", "label": "1"}, {"sequence": "ACGTAC", "label": "0"}]
    assert infer_task(rows, ["sequence"], ["label"]).kind == "binary"


@pytest.mark.parametrize(
    ("value", "parsed"),
    # "0101" is a number here: `infer_task` takes a string as per-base labels only from 8 bases on
    [(True, 1), (" 7 ", 7), ("1e-3", 0.001), (2.5, 2.5), ("[[0, 9]]", [[0, 9]]), ("0101", 101), ("AT", "AT")],
)
def test_a_cell_is_read_as_a_number_list_or_word(value, parsed):
    assert parse_value(value, "here") == parsed and type(parse_value(value, "here")) is type(parsed)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (None, "here: the label is missing (empty or NaN)"),
        (" NA ", "here: the label is missing (empty or NaN)"),
        (float("nan"), "here: the label is missing (NaN)"),
        ("-inf", "here: the label is not a finite number (-inf)"),
        ("[1, 2", "here: cannot read the list '[1, 2' (Expecting ',' delimiter)"),
    ],
)
def test_a_cell_without_a_label(value, message):
    with pytest.raises(InputError, match=re.escape(message)):
        parse_value(value, "here")


@pytest.mark.parametrize(
    ("columns", "named", "expected"),
    [
        (["id", "sequence", "a", "b"], {}, (["sequence"], ["a", "b"])),  # no `label`: every other column but the id
        (["sequence2", "label", "sequence1"], {}, (["sequence1", "sequence2"], ["label"])),
        (["dna", "y", "label"], {"sequence_column": "dna", "label_columns": ["y"]}, (["dna"], ["y"])),
    ],
)
def test_the_columns_of_a_table(columns, named, expected):
    assert resolve_columns([dict.fromkeys(columns, "")], "t.csv", **named) == expected


@pytest.mark.parametrize(
    ("columns", "named", "message"),
    [
        (["dna", "label"], {}, "t.csv has no 'sequence' column (columns: dna, label); name it with --sequence-column"),
        (["sequence", "Name"], {}, "t.csv has no label column (columns: sequence, Name); name it with --label-column"),
        (["a", "b", "c", "y"], {"sequence_column": "a,b,c"}, "at most two sequence columns (a pair), got a, b, c"),
        (["sequence", "y"], {"sequence_column": "seq"}, "t.csv has no column 'seq' (columns: sequence, y)"),
        (None, {}, "t.csv is empty (no rows)"),
    ],
)
def test_columns_that_cannot_be_found(columns, named, message):
    rows = [dict.fromkeys(columns, "")] if columns else []
    with pytest.raises(InputError, match=re.escape(message)):
        resolve_columns(rows, "t.csv", **named)


@pytest.mark.parametrize(
    ("rows", "labels", "message"),
    [
        ([{"sequence": "ACGT", "a": "x", "b": "y"}], ["a", "b"], "several label columns need numbers (0/1 for multi"),
        ([{"sequence": "ACGT", "a": [0, 1, 1, 0], "b": [1, 1, 1, 1]}], ["a", "b"], "need one sequence column and one"),
        ([{"sequence": "AC", "label": [[0, 1], [1, 0]]}], ["label"], "cannot tell a 2x2 matrix from a list of pairs"),
        ([{"sequence": "ACGTAC", "label": [[0, 6]]}], ["label"], "row 1: base pairs must be [i, j] with 0 <= i, j < 6"),
        (
            [{"sequence": "ACG", "label": [[0] * 3] * 3}, {"sequence": "AC", "label": [[0] * 3] * 3}],
            ["label"],
            "row 2: the base-pair matrix is not 2 x 2 like its sequence",
        ),  # fmt: skip
        ([{"sequence": "ACGT", "label": [0, 1, 1]}], ["label"], "row 1: 3 labels for a sequence of 4 bases (per-base"),
        ([{"sequence": "ACGT", "label": ["a", "b", "c", "d"]}], ["label"], "per-base label lists must hold numbers"),
    ],
)
def test_labels_that_ask_for_no_task(rows, labels, message):
    with pytest.raises(InputError, match=re.escape(message)):
        infer_task(rows, ["sequence"], labels)


BINARY = Task("sequence", "single_label_classification", 2, ["enhancer", "other"], ["y"], ["s"], "value")
TWO_VALUES = Task("sequence", "regression", 2, None, ["a", "b"], ["s"], "value")
PER_BASE = Task("token", "single_label_classification", 2, ["0", "1"], ["y"], ["s"], "string")
PER_BASE_VALUES = Task("token", "regression", 1, None, ["y"], ["s"], "list")
PAIRS = Task("contact", "single_label_classification", 2, ["0", "1"], ["y"], ["s"], "pairs")


@pytest.mark.parametrize(
    ("task", "row", "target"),
    [
        (BINARY, {"s": "ACGT", "y": "other"}, 1),
        (TWO_VALUES, {"s": "ACGT", "a": "0.5", "b": 2}, [0.5, 2.0]),
        (PER_BASE, {"s": "ACGT", "y": "0110"}, [0, 1, 1, 0]),
        (PER_BASE_VALUES, {"s": "ACG", "y": "[1, 0.5, 0]"}, [1.0, 0.5, 0.0]),
        (PAIRS, {"s": "ACG", "y": [[0, 2]]}, [[0, 0, 1], [0, 0, 0], [1, 0, 0]]),
    ],
)
def test_a_label_as_the_models_target(task, row, target):
    assert encode_label(row, task, "row 1") == target


@pytest.mark.parametrize(
    ("task", "row", "message"),
    [
        (
            BINARY,
            {"s": "ACGT", "y": "silencer"},
            "row 1: label 'silencer' is not one of the training classes (enhancer",
        ),
        (TWO_VALUES, {"s": "ACGT", "a": "x", "b": 1}, "row 1: expected numbers in a, b, got ['x', 1]"),
        (PER_BASE, {"s": "ACGT", "y": "0120"}, "row 1: label '2' is not one of the training classes (0, 1)"),
        (PER_BASE_VALUES, {"s": "ACG", "y": 1}, "row 1: expected a list of labels, got 1"),
        (PAIRS, {"s": "ACG", "y": [[0, 3]]}, "row 1: base pair [0, 3] is outside a sequence of 3 bases"),
    ],
)
def test_a_label_that_does_not_fit_the_task(task, row, message):
    with pytest.raises(InputError, match=re.escape(message)):
        encode_label(row, task, "row 1")


def test_a_task_is_saved_without_its_notes():
    task = Task(**{**vars(BINARY), "notes": ["a note"]})
    saved = json.loads(json.dumps(task.to_dict()))  # as task.json holds it
    assert "notes" not in saved and Task.from_dict({**saved, "added_later": 1}) == BINARY
