"""`TaskMetrics` (danling's metrics) for each kind of task: the names it reports, values against a direct
computation, batch by batch as in one call, and base-level positions labelled -100 left out."""

from __future__ import annotations

import math

import numpy as np
import pytest
from transformers import EvalPrediction

from multimolecule.training import Task, TaskMetrics

CLASSIFICATION = ["accuracy", "f1", "mcc", "precision", "recall"]
REGRESSION = ["mse", "mae", "r2", "pearson", "spearman"]
CASES = [  # (level, problem type, num_labels)
    ("sequence", "single_label_classification", 2),
    ("sequence", "single_label_classification", 3),
    ("sequence", "multi_label_classification", 3),
    ("sequence", "regression", 1),
    ("sequence", "regression", 2),
    ("token", "single_label_classification", 2),
    ("token", "single_label_classification", 3),
    ("token", "regression", 1),
]


def make_batch(rng, level: str, problem_type: str, num_labels: int, rows: int = 8, bases: int = 6):
    """Logits and labels as `Trainer` gives them: (rows, num_labels) at sequence level; (rows, bases, num_labels)
    per base, the last two bases of odd rows being padding (-100)."""
    shape = (rows,) if level == "sequence" else (rows, bases)
    logits = rng.normal(size=(*shape, num_labels)).astype(np.float32)
    if problem_type == "regression":
        values = logits[..., 0] if num_labels == 1 else logits
        labels = (values + rng.normal(size=values.shape)).astype(np.float32)
    elif problem_type == "multi_label_classification":
        labels = rng.integers(0, 2, size=(*shape, num_labels))
    else:
        labels = rng.integers(0, num_labels, size=shape)
    if level == "token":
        labels[1::2, bases - 2 :] = -100
    return logits, labels


@pytest.mark.parametrize(("level", "problem_type", "num_labels"), CASES)
def test_task_metrics(level: str, problem_type: str, num_labels: int) -> None:
    rng = np.random.default_rng(0)
    classes = [str(i) for i in range(num_labels)] if problem_type == "single_label_classification" else None
    columns = ["label"] if classes else [f"label{i}" for i in range(num_labels)]
    task = Task(level, problem_type, num_labels, classes, columns, ["sequence"], "value")
    batches = [make_batch(rng, level, problem_type, num_labels) for _ in range(3)]
    logits, labels = (np.concatenate(arrays) for arrays in zip(*batches))
    metrics = TaskMetrics(task)
    whole = metrics(EvalPrediction(predictions=logits, label_ids=labels))

    names = REGRESSION if problem_type == "regression" else CLASSIFICATION
    names = names + ["auroc", "auprc"] if level == "sequence" and problem_type != "regression" else names
    assert sorted(whole) == sorted(names) and all(map(math.isfinite, whole.values()))
    keep = labels != -100
    if problem_type == "regression":
        errors = (logits[..., 0] if num_labels == 1 else logits)[keep] - labels[keep]
        assert whole["mse"] == pytest.approx((errors**2).mean(), rel=1e-4)
        assert whole["mae"] == pytest.approx(np.abs(errors).mean(), rel=1e-4)
    elif problem_type == "multi_label_classification":
        assert whole["accuracy"] == pytest.approx(((logits > 0) == labels).mean(), rel=1e-5)
    else:
        predicted, target = logits.argmax(-1)[keep], labels[keep]
        assert whole["accuracy"] == pytest.approx((predicted == target).mean(), rel=1e-5)
        if num_labels == 2:
            tp, tn = ((predicted == 1) & (target == 1)).sum(), ((predicted == 0) & (target == 0)).sum()
            fp, fn = ((predicted == 1) & (target == 0)).sum(), ((predicted == 0) & (target == 1)).sum()
            mcc = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
            assert whole["mcc"] == pytest.approx(mcc, rel=1e-4)

    for i, (batch_logits, batch_labels) in enumerate(batches):  # as Trainer calls it with batch_eval_metrics
        last = i == len(batches) - 1
        result = metrics(EvalPrediction(predictions=batch_logits, label_ids=batch_labels), compute_result=last)
        assert result == pytest.approx(whole, rel=1e-5) if last else result == {}
