"""Reading labelled tables: CSV, TSV, JSON lines and Parquet, and finding a dataset's splits.

A dataset is either a folder in the GUE layout (`train.csv`, `dev.csv`, `test.csv`; TSV, JSON-lines and Parquet
files with those names work too) or files named one by one. Every table becomes a list of rows, each a dict from
column name to the raw value (a string for CSV/TSV, any JSON value otherwise).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from ..utils import InputError

SPLITS = ("train", "dev", "test")
SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".jsonl": "jsonl", ".json": "jsonl", ".parquet": "parquet"}


def table_format(path: Path) -> str:
    """`csv`, `tsv`, `jsonl` or `parquet`, from the file name (a `.gz` suffix is allowed for text formats).

    Example:
        >>> table_format(Path("train.tsv.gz")), table_format(Path("dev.parquet"))
        ('tsv', 'parquet')
    """
    suffixes = [s for s in path.suffixes if s != ".gz"]
    kind = SUFFIXES.get(suffixes[-1].lower()) if suffixes else None
    if kind is None:
        raise InputError(f"{path}: unknown table format; use .csv, .tsv, .jsonl or .parquet")
    return kind


def read_table(path: str | os.PathLike) -> list[dict]:
    """The rows of a CSV/TSV (with a header line), JSON-lines or Parquet file, as dicts.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "train.csv"
        >>> _ = path.write_text("sequence,label\\nACGT,1\\nGGCC,0\\n")
        >>> read_table(path)
        [{'sequence': 'ACGT', 'label': '1'}, {'sequence': 'GGCC', 'label': '0'}]
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"file not found: {path}")
    kind = table_format(path)
    if kind == "parquet":
        try:
            import pyarrow.parquet as parquet
        except ImportError as error:
            raise InputError("reading Parquet needs pyarrow: pip install pyarrow") from error
        return parquet.read_table(path).to_pylist()
    opener = __import__("gzip").open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        if kind == "jsonl":
            rows = []
            for number, line in enumerate(handle, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as error:
                        raise InputError(f"{path}, line {number}: not valid JSON ({error.msg})") from error
            return rows
        reader = csv.DictReader(handle, delimiter="," if kind == "csv" else "\t")
        if not reader.fieldnames:
            raise InputError(f"{path} is empty (expected a header line such as 'sequence,label')")
        rows = []
        for number, row in enumerate(reader, 2):
            if None in row or any(value is None for value in row.values()):
                raise InputError(f"{path}, line {number}: {len(reader.fieldnames)} columns expected")
            rows.append(row)
        return rows


def find_split(folder: Path, split: str) -> Path | None:
    """`folder/split.csv` (or .tsv, .jsonl, .parquet, optionally gzipped), if exactly one exists."""
    found = [p for p in sorted(folder.glob(f"{split}.*")) if p.is_file() and p.name.split(".", 1)[1] in _NAMES]
    if len(found) > 1:
        raise InputError(f"{folder} has several {split} files: {', '.join(p.name for p in found)}")
    return found[0] if found else None


_NAMES = {ext[1:] + gz for ext in SUFFIXES for gz in ("", ".gz") if not (ext == ".parquet" and gz)}


def split_files(
    data: str | os.PathLike | None = None,
    train: str | os.PathLike | None = None,
    dev: str | os.PathLike | None = None,
    test: str | os.PathLike | None = None,
    require: tuple[str, ...] = ("train", "dev"),
) -> dict[str, Path]:
    """{split: file} from a GUE-layout folder (`data`) and/or files named explicitly (which take precedence).

    Splits in `require` must exist; `test` is optional unless required.
    """
    files: dict[str, Path] = {}
    if data is not None:
        folder = Path(data)
        if folder.is_file():
            raise InputError(
                f"--data takes a folder with train.csv, dev.csv, test.csv; for files use --train etc.: {data}"
            )
        if not folder.is_dir():
            raise InputError(f"data folder not found: {data}")
        for split in SPLITS:
            found = find_split(folder, split)
            if found is not None:
                files[split] = found
    for split, given in zip(SPLITS, (train, dev, test)):
        if given is not None:
            if not Path(given).is_file():
                raise InputError(f"{split} file not found: {given}")
            files[split] = Path(given)
    missing = [split for split in require if split not in files]
    if missing:
        where = f"in {data}" if data is not None else "(give --data DIR or --train/--dev/--test FILE)"
        raise InputError(f"no {' or '.join(missing)} split {where}: expected {', '.join(s + '.csv' for s in missing)}")
    return files
