"""A dataset's splits read, checked, and encoded for a model, before anything is trained."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..utils import InputError
from .tables import read_table, split_files
from .tasks import Task, encode_label, infer_task, resolve_columns


@dataclass
class Splits:
    """The rows of each split and the task they ask for (inferred from the training labels)."""

    task: Task
    rows: dict[str, list[dict]]
    files: dict[str, str]

    def summary(self) -> str:
        counts = ", ".join(f"{len(rows):,} {split}" for split, rows in self.rows.items())
        return f"task: {self.task.describe()}; {counts} sequences"


def read_splits(
    data=None,
    train=None,
    dev=None,
    test=None,
    sequence_column: str | None = None,
    label_column: str | None = None,
    require: tuple[str, ...] = ("train", "dev"),
    task: Task | None = None,
) -> Splits:
    """Read every split, infer the task from `train` (or use `task`), and check every row's label against it.

    Missing files or columns, an empty split, missing or mixed labels, per-base labels whose length does not
    match the sequence, and classes absent from training raise `InputError` here, before any model is loaded.
    """
    files = split_files(data, train, dev, test, require=require)
    labels = [c.strip() for c in label_column.split(",")] if isinstance(label_column, str) else label_column
    rows = {}
    for split, path in files.items():
        rows[split] = read_table(path)
        if not rows[split]:
            raise InputError(f"the {split} split is empty: {path}")
    if task is None:
        first = "train" if "train" in rows else next(iter(rows))
        sequences, label_columns = resolve_columns(rows[first], str(files[first]), sequence_column, labels)
        task = infer_task(rows[first], sequences, label_columns, where=str(files[first]))
    for split, table in rows.items():
        columns = set(table[0])
        for column in [*task.sequence_columns, *task.label_columns]:
            if column not in columns:
                raise InputError(f"{files[split]} has no column {column!r} (columns: {', '.join(table[0])})")
        for number, row in enumerate(table, 1):
            for column in task.sequence_columns:
                if not isinstance(row[column], str) or not row[column].strip():
                    raise InputError(f"{files[split]}, row {number}: the sequence is empty")
            encode_label(row, task, f"{files[split]}, row {number}")  # every label fits the task
    return Splits(task, rows, {split: str(path) for split, path in files.items()})


def encode_rows(
    rows: list[dict],
    task: Task,
    tokenizer,
    max_length: int,
    token_lengths: list[int],
    where: str,
    labels: bool = True,
    shift: int = 0,
) -> tuple[list[dict], int]:
    """Tokenize each row (cut to `max_length` tokens) and attach its label; per-base and base-pair labels are cut
    to the bases the kept tokens cover. With `shift`, each sequence (and its per-base labels) starts `shift` bases
    in (at most its length less one). Returns (examples, number of sequences cut)."""
    texts = [[str(row[c]).strip() for c in task.sequence_columns] for row in rows]
    starts = [min(shift, min(len(t) for t in row_texts) - 1) for row_texts in texts]
    texts = [[t[start:] for t in row_texts] for start, row_texts in zip(starts, texts)]
    if len(task.sequence_columns) == 2:
        encoded = tokenizer([t[0] for t in texts], [t[1] for t in texts], truncation=True, max_length=max_length)
    else:
        encoded = tokenizer([t[0] for t in texts], truncation=True, max_length=max_length)
    examples, cut = [], 0
    for number, (row, ids, start) in enumerate(zip(rows, encoded["input_ids"], starts), 1):
        covered = sum(token_lengths[i] for i in ids)
        length = sum(len(t) for t in texts[number - 1])
        if covered < length:
            if len(ids) < max_length:
                raise InputError(f"{where}, row {number}: the tokenizer covers {covered} of the {length} bases")
            cut += 1
        example = {"input_ids": ids}
        if labels:
            label = encode_label(row, task, f"{where}, row {number}")
            if task.level == "token":
                label = label[start:][:covered]
            elif task.level == "contact":
                label = [r[start:][:covered] for r in label[start:][:covered]]
            example["labels"] = label
        examples.append(example)
    return examples, cut


class ShiftedViews(torch.utils.data.Dataset):
    """Training examples seen in several reading frames: `views[s][i]` is example `i` encoded from `s` bases into
    its sequence (`encode_rows(..., shift=s)`), and each time an example is drawn, one of its views is picked at
    random (seeded). A tokenizer that cuts DNA into k-mers sees each sequence in one frame only; the shifted views
    show it the others.

    Example:
        >>> views = ShiftedViews([[{"input_ids": [1]}], [{"input_ids": [2]}]], seed=0)
        >>> len(views), sorted({views[0]["input_ids"][0] for _ in range(20)})
        (1, [1, 2])
    """

    def __init__(self, views: list[list[dict]], seed: int):
        self.views = views
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return len(self.views[0])

    def __getitem__(self, index: int) -> dict:
        view = int(torch.randint(len(self.views), (1,), generator=self.generator))
        return self.views[view][index]
