"""Labelled tables (`training/tables.py`): each format read into rows, their one-line errors, and a dataset's splits
found in a folder or named one by one."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest

from multimolecule.training.tables import read_table, split_files, table_format
from multimolecule.utils import InputError


@pytest.mark.parametrize(
    ("name", "kind"),
    [("train.CSV", "csv"), ("dev.txt", "tsv"), ("test.json", "jsonl"), ("train.jsonl.gz", "jsonl")],
)
def test_the_format_is_the_last_suffix_but_gz(name, kind):
    assert table_format(Path(name)) == kind


@pytest.mark.parametrize("name", ["train.xlsx", "train", "train.gz"])
def test_an_unknown_format_is_one_error(name):
    with pytest.raises(
        InputError, match=re.escape(f"{name}: unknown table format; use .csv, .tsv, .jsonl or .parquet")
    ):
        table_format(Path(name))


def test_every_format_gives_the_same_rows(tmp_path):
    """Text formats give strings (the labels are parsed later), JSON lines and Parquet keep their types."""
    with gzip.open(tmp_path / "train.tsv.gz", "wt") as handle:
        handle.write("sequence\tlabel\nACGT\t1\nGGCC\t0\n")
    assert read_table(tmp_path / "train.tsv.gz") == [
        {"sequence": "ACGT", "label": "1"},
        {"sequence": "GGCC", "label": "0"},
    ]
    (tmp_path / "train.jsonl").write_text(
        '{"sequence": "ACGT", "label": [0, 1, 1, 0]}\n\n{"sequence": "GG", "label": [2, 0]}\n'
    )
    rows = [{"sequence": "ACGT", "label": [0, 1, 1, 0]}, {"sequence": "GG", "label": [2, 0]}]
    assert read_table(tmp_path / "train.jsonl") == rows  # the blank line is skipped
    parquet = pytest.importorskip("pyarrow.parquet")
    import pyarrow

    parquet.write_table(pyarrow.Table.from_pylist(rows), tmp_path / "train.parquet")
    assert read_table(tmp_path / "train.parquet") == rows


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("missing.csv", None, "file not found: {path}"),
        ("train.csv", "", "{path} is empty (expected a header line such as 'sequence,label')"),
        ("train.csv", "sequence,label\nACGT,1\nGGCC\n", "{path}, line 3: 2 columns expected"),
        ("train.tsv", "sequence\tlabel\nACGT\t1\t0\n", "{path}, line 2: 2 columns expected"),
        ("train.jsonl", '{"sequence": "ACGT"}\n{"sequence": \n', "{path}, line 2: not valid JSON (Expecting value)"),
    ],
)
def test_a_broken_table_is_one_error_naming_the_line(tmp_path, name, text, message):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(InputError, match=re.escape(message.format(path=path))):
        read_table(path)


def test_splits_of_a_folder_in_any_format(tmp_path):
    """One file per split, in any table format; other files (a backup, a gzipped Parquet) are not splits."""
    for name in ("train.csv", "dev.tsv.gz", "test.jsonl", "train.csv.bak", "notes.txt", "dev.parquet.gz"):
        (tmp_path / name).write_text("")
    assert split_files(tmp_path, require=("train", "dev", "test")) == {
        "train": tmp_path / "train.csv",
        "dev": tmp_path / "dev.tsv.gz",
        "test": tmp_path / "test.jsonl",
    }
    other = tmp_path / "elsewhere.csv"
    other.write_text("")
    assert split_files(tmp_path, dev=other)["dev"] == other  # a file named explicitly replaces the folder's
    assert split_files(train=other, dev=other) == {"train": other, "dev": other}  # no test: optional


@pytest.mark.parametrize(
    ("files", "arguments", "message"),
    [
        (["train.csv", "train.tsv", "dev.csv"], {}, "{data} has several train files: train.csv, train.tsv"),
        (["test.csv"], {}, "no train or dev split in {data}: expected train.csv, dev.csv"),
        (["train.csv"], {"require": ("train", "test")}, "no test split in {data}: expected test.csv"),
        (["train.csv", "dev.csv"], {"test": "{data}/none.csv"}, "test file not found: {data}/none.csv"),
        (["train.csv"], {"data": "{data}/train.csv"}, "--data takes a folder with train.csv, dev.csv, test.csv"),
    ],
)
def test_missing_or_ambiguous_splits(tmp_path, files, arguments, message):
    for name in files:
        (tmp_path / name).write_text("")
    arguments = {"data": str(tmp_path), **arguments}
    arguments = {
        key: value.format(data=tmp_path) if isinstance(value, str) else value for key, value in arguments.items()
    }
    with pytest.raises(InputError, match=re.escape(message.format(data=tmp_path))):
        split_files(**arguments)
