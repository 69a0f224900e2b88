"""What a labelled table asks for: the task inferred from its labels, and the rows encoded for a model.

One value per sequence: integers (or words) with two classes -> binary, more -> multiclass, decimals -> regression;
several label columns -> multi-label (0/1 values) or multi-output regression. One label per base: a string with
one character per base (`"0001112220"`) or a list as long as the sequence -> the token (per-base) head. A base-pair
matrix (`[[0, 1], [1, 0]]`) or a list of pairs (`[[0, 9], [1, 8]]`) -> the contact head.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

from ..utils import InputError

LEVELS = ("sequence", "token", "contact")
ID_COLUMNS = ("id", "name", "identifier")
MISSING = ("", "na", "nan", "none", "null")


@dataclass
class Task:
    """A fine-tuning task: the head it needs, its loss, its classes, and where its columns are.

    Example:
        >>> task = Task("sequence", "single_label_classification", 2, ["0", "1"], ["label"], ["sequence"], "value")
        >>> task.kind, task.describe()
        ('binary', 'sequence-level binary classification (2 classes: 0, 1)')
    """

    level: str  # "sequence", "token" (one label per base) or "contact" (one label per pair of bases)
    problem_type: str  # "single_label_classification", "multi_label_classification" or "regression"
    num_labels: int
    classes: list[str] | None  # class names in id order, for classification
    label_columns: list[str]
    sequence_columns: list[str]
    label_format: str  # "value", "string" (one character per base), "list", "matrix" or "pairs"
    notes: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """`binary`, `multiclass`, `multilabel` or `regression`."""
        if self.problem_type == "regression":
            return "regression"
        if self.problem_type == "multi_label_classification":
            return "multilabel"
        return "binary" if self.num_labels == 2 else "multiclass"

    def describe(self) -> str:
        level = {"sequence": "sequence-level", "token": "per-base", "contact": "base-pair (contact)"}[self.level]
        if self.kind == "regression":
            outputs = (
                f"{self.num_labels} outputs: {', '.join(self.label_columns)}" if self.num_labels > 1 else "1 value"
            )
            return f"{level} regression ({outputs})"
        if self.kind == "multilabel":
            return f"{level} multi-label classification ({self.num_labels} labels: {', '.join(self.label_columns)})"
        shown = ", ".join(self.classes[:10]) + (", ..." if len(self.classes) > 10 else "")
        return f"{level} {self.kind} classification ({self.num_labels} classes: {shown})"

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "notes"}

    @classmethod
    def from_dict(cls, values: dict) -> Task:
        return cls(**{k: values[k] for k in cls.__dataclass_fields__ if k in values})


# --------------------------------------------------------------------------------------------- columns


def resolve_columns(
    rows: list[dict], where: str, sequence_column: str | None = None, label_columns: list[str] | None = None
) -> tuple[list[str], list[str]]:
    """(sequence columns, label columns) of a table: `sequence` (or `sequence1`, `sequence2` for pairs) and
    `label`, unless named; without a `label` column every other column (but `id`/`name`) is a label."""
    if not rows:
        raise InputError(f"{where} is empty (no rows)")
    columns = list(rows[0])
    if sequence_column:
        sequences = [c.strip() for c in sequence_column.split(",")]
    elif "sequence" in columns:
        sequences = ["sequence"]
    elif "sequence1" in columns and "sequence2" in columns:
        sequences = ["sequence1", "sequence2"]
    else:
        raise InputError(
            f"{where} has no 'sequence' column (columns: {', '.join(columns)}); name it with --sequence-column"
        )
    if label_columns:
        labels = list(label_columns)
    elif "label" in columns:
        labels = ["label"]
    else:
        labels = [c for c in columns if c not in sequences and c.lower() not in ID_COLUMNS]
    for column in [*sequences, *labels]:
        if column not in columns:
            raise InputError(f"{where} has no column {column!r} (columns: {', '.join(columns)})")
    if not labels:
        raise InputError(f"{where} has no label column (columns: {', '.join(columns)}); name it with --label-column")
    if len(sequences) > 2:
        raise InputError(f"at most two sequence columns (a pair), got {', '.join(sequences)}")
    return sequences, labels


# ---------------------------------------------------------------------------------------------- values


def parse_value(value, where: str):
    """A raw cell -> int, float, str (a word or a per-base string) or list; missing values raise `InputError`.

    Example:
        >>> parse_value("3", ""), parse_value("0.5", ""), parse_value("[1, 0]", ""), parse_value("enhancer", "")
        (3, 0.5, [1, 0], 'enhancer')
    """
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, list)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            raise InputError(f"{where}: the label is missing (NaN)")
        return value
    if value is None or str(value).strip().lower() in MISSING:
        raise InputError(f"{where}: the label is missing (empty or NaN)")
    text = str(value).strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"{where}: cannot read the list {text[:40]!r} ({error.msg})") from error
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return text
    if not math.isfinite(number):
        raise InputError(f"{where}: the label is not a finite number ({text})")
    return number


def value_type(value) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "word"
    return "int" if isinstance(value, int) else "float"


def sort_classes(values) -> list[str]:
    """Class names in id order: numerically for integers, alphabetically otherwise."""
    values = set(values)
    if all(isinstance(v, int) for v in values):
        return [str(v) for v in sorted(values)]
    return sorted(str(v) for v in values)


def is_per_base_string(value, sequence: str) -> bool:
    return isinstance(value, str) and len(value) == len(sequence) and len(sequence) >= 8 and not value.startswith("[")


def infer_task(rows: list[dict], sequences: list[str], labels: list[str], where: str = "train") -> Task:
    """The task the training rows ask for (see the module docstring); raises `InputError` for mixed label types,
    missing values and per-base labels whose length does not match the sequence.

    Example:
        >>> rows = [{"sequence": "ACGTACGTAC", "label": "0001112220"}, {"sequence": "GGCCAA", "label": "111100"}]
        >>> infer_task(rows, ["sequence"], ["label"]).describe()
        'per-base multiclass classification (3 classes: 0, 1, 2)'
    """
    column = labels[0]
    first_sequence = str(rows[0][sequences[0]])
    if len(labels) == 1 and len(sequences) == 1 and is_per_base_string(rows[0][column], first_sequence):
        characters = set()
        for number, row in enumerate(rows, 1):
            label, sequence = str(row[column]), str(row[sequences[0]])
            if len(label) != len(sequence):
                raise InputError(
                    f"{where}, row {number}: {len(label)} labels for a sequence of {len(sequence)} bases "
                    "(per-base labels need one character per base)"
                )
            characters.update(label)
        classes = sorted(characters)
        return Task("token", "single_label_classification", len(classes), classes, labels, sequences, "string")

    values = [[parse_value(row[c], f"{where}, row {n}, column {c!r}") for c in labels] for n, row in enumerate(rows, 1)]
    types = {value_type(v) for row in values for v in row}
    if types == {"list"}:
        if len(labels) > 1 or len(sequences) > 1:
            raise InputError(f"{where}: per-base or base-pair labels need one sequence column and one label column")
        return infer_structured(rows, [row[0] for row in values], sequences, labels, where)
    if "list" in types or ("word" in types and len(types) > 1):
        raise InputError(f"{where}: mixed label types in {', '.join(labels)} ({', '.join(sorted(types))})")
    if len(labels) > 1:
        if types == {"int"} and {v for row in values for v in row} <= {0, 1}:
            return Task("sequence", "multi_label_classification", len(labels), list(labels), labels, sequences, "value")
        if "word" in types:
            raise InputError(f"{where}: several label columns need numbers (0/1 for multi-label), not words")
        return Task("sequence", "regression", len(labels), None, labels, sequences, "value")
    if types == {"float"} or types == {"int", "float"}:
        return Task("sequence", "regression", 1, None, labels, sequences, "value")
    classes = sort_classes(row[0] for row in values)
    if len(classes) < 2:
        raise InputError(f"{where}: every label is {classes[0]!r}; a classification task needs at least two classes")
    return Task("sequence", "single_label_classification", len(classes), classes, labels, sequences, "value")


def infer_structured(rows, values, sequences, labels, where) -> Task:
    """Per-base lists or base-pair matrices / pair lists."""
    sequence_column = sequences[0]
    first, length = values[0], len(str(rows[0][sequence_column]))
    nested = bool(first) and isinstance(first[0], list)
    if not nested:
        for number, (row, value) in enumerate(zip(rows, values), 1):
            if len(value) != len(str(row[sequence_column])) or any(isinstance(v, list) for v in value):
                raise InputError(
                    f"{where}, row {number}: {len(value)} labels for a sequence of {len(str(row[sequence_column]))} "
                    "bases (per-base labels need one value per base)"
                )
        flat = {v for value in values for v in value}
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat):
            raise InputError(f"{where}: per-base label lists must hold numbers")
        if any(isinstance(v, float) for v in flat):
            return Task("token", "regression", 1, None, labels, sequences, "list")
        classes = sort_classes(flat)
        return Task("token", "single_label_classification", len(classes), classes, labels, sequences, "list")
    label_format = "matrix" if len(first) == length and all(len(r) == length for r in first) else "pairs"
    if label_format == "matrix" and length == 2 and all(len(p) == 2 for value in values for p in value):
        raise InputError(f"{where}: cannot tell a 2x2 matrix from a list of pairs; use longer sequences")
    for number, (row, value) in enumerate(zip(rows, values), 1):
        n = len(str(row[sequence_column]))
        if label_format == "matrix" and (len(value) != n or any(len(r) != n for r in value)):
            raise InputError(f"{where}, row {number}: the base-pair matrix is not {n} x {n} like its sequence")
        if label_format == "pairs" and any(len(p) != 2 or not 0 <= min(p) <= max(p) < n for p in value):
            raise InputError(f"{where}, row {number}: base pairs must be [i, j] with 0 <= i, j < {n}")
    return Task("contact", "single_label_classification", 2, ["0", "1"], labels, sequences, label_format)


# ---------------------------------------------------------------------------------------------- labels


def encode_label(row: dict, task: Task, where: str):
    """One row's label(s) as model targets: a class id, a float, a list per base, or a base-pair matrix."""
    index = {name: i for i, name in enumerate(task.classes or [])}

    def class_id(value) -> int:
        if str(value) not in index:
            raise InputError(f"{where}: label {value!r} is not one of the training classes ({', '.join(index)})")
        return index[str(value)]

    if task.label_format == "string":
        label, sequence = str(row[task.label_columns[0]]), str(row[task.sequence_columns[0]])
        if len(label) != len(sequence):
            raise InputError(f"{where}: {len(label)} labels for a sequence of {len(sequence)} bases")
        return [class_id(c) for c in label]
    values = [parse_value(row[c], f"{where}, column {c!r}") for c in task.label_columns]
    if task.level == "sequence":
        if task.problem_type == "single_label_classification":
            return class_id(values[0])
        if any(isinstance(v, (str, list)) for v in values):
            raise InputError(f"{where}: expected numbers in {', '.join(task.label_columns)}, got {values}")
        return [float(v) for v in values] if len(values) > 1 else float(values[0])
    value, n = values[0], len(str(row[task.sequence_columns[0]]))
    if not isinstance(value, list):
        raise InputError(f"{where}: expected a list of labels, got {value!r}")
    if task.level == "token":
        if len(value) != n:
            raise InputError(f"{where}: {len(value)} labels for a sequence of {n} bases")
        return [float(v) for v in value] if task.problem_type == "regression" else [class_id(v) for v in value]
    if task.label_format == "pairs":
        matrix = [[0] * n for _ in range(n)]
        for i, j in value:
            if not (0 <= i < n and 0 <= j < n):
                raise InputError(f"{where}: base pair {[i, j]} is outside a sequence of {n} bases")
            matrix[i][j] = matrix[j][i] = 1
        return matrix
    if len(value) != n or any(len(r) != n for r in value):
        raise InputError(f"{where}: the base-pair matrix is not {n} x {n} like its sequence")
    return [[class_id(v) for v in r] for r in value]
