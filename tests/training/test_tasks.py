"""What a labelled table asks for (`training/tasks.py`): the task inferred from the labels, and its description."""

from __future__ import annotations

import pytest

from multimolecule.training import infer_task, read_splits


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
