"""Task metrics with `danling`, as a `compute_metrics` function for transformers' `Trainer`.

Classification: accuracy (the share of right answers), macro F1, MCC, macro precision and recall, and, for
sequence-level tasks, AUROC and AUPRC. Regression: MSE, MAE, Pearson, Spearman and R². Per-base and base-pair
tasks are scored over every labelled base (pair), accumulated batch by batch
(`TrainingArguments(batch_eval_metrics=True)`): classification keeps only a confusion matrix, so memory does not
grow with the evaluation set (which is also why AUROC/AUPRC, which need every score, are left out at base level);
per-base regression keeps one value per base.
"""

from __future__ import annotations

import numpy as np
import torch
from danling.metrics import GlobalMetrics
from danling.metrics import functional as dm

from .collator import IGNORE_INDEX
from .tasks import Task

HIGHER_IS_BETTER = {"mse": False, "mae": False}


def default_metric(task: Task) -> str:
    """The dev metric that picks the best checkpoint: MCC for classification, MSE for regression."""
    return "mse" if task.problem_type == "regression" else "mcc"


def build_metrics(task: Task) -> GlobalMetrics:
    """A fresh danling metric container for `task` (exact, not distributed: `Trainer` gathers the predictions)."""
    base_level = task.level != "sequence"
    kind, n = task.kind, task.num_labels
    if kind == "regression":
        functions = [dm.mse(num_outputs=n, name="mse"), dm.mae(num_outputs=n, name="mae"), dm.r2_score(name="r2")]
        functions += [dm.pearson(name="pearson"), dm.spearman(name="spearman")]
    elif kind == "binary":
        functions = [
            dm.binary_accuracy(name="accuracy"),
            dm.binary_f1(name="f1"),
            dm.mcc(task="binary", name="mcc"),
            dm.binary_precision(name="precision"),
            dm.binary_recall(name="recall"),
        ]
        if not base_level:
            functions += [dm.binary_auroc(name="auroc"), dm.binary_auprc(name="auprc")]
    elif kind == "multiclass":
        functions = [
            dm.multiclass_accuracy(num_classes=n, average="micro", name="accuracy"),
            dm.multiclass_f1_score(num_classes=n, name="f1"),
            dm.mcc(task="multiclass", num_classes=n, name="mcc"),
            dm.multiclass_precision(num_classes=n, name="precision"),
            dm.multiclass_recall(num_classes=n, name="recall"),
        ]
        if not base_level:
            functions += [
                dm.multiclass_auroc(num_classes=n, name="auroc"),
                dm.multiclass_auprc(num_classes=n, name="auprc"),
            ]
    else:
        functions = [
            dm.multilabel_accuracy(num_labels=n, average="micro", name="accuracy"),
            dm.multilabel_f1_score(num_labels=n, name="f1"),
            dm.mcc(task="multilabel", num_labels=n, name="mcc"),
            dm.multilabel_precision(num_labels=n, name="precision"),
            dm.multilabel_recall(num_labels=n, name="recall"),
        ]
        if not base_level:
            functions += [
                dm.multilabel_auroc(num_labels=n, name="auroc"),
                dm.multilabel_auprc(num_labels=n, name="auprc"),
            ]
    return GlobalMetrics(*functions, distributed=False)


def scores_and_targets(logits, labels, task: Task) -> tuple[torch.Tensor, torch.Tensor]:
    """Flatten a batch to the labelled positions: (scores, targets), scores being probabilities (class 1 for
    binary, every class for multiclass, every label for multi-label) or predicted values."""
    logits = torch.as_tensor(np.asarray(logits) if not isinstance(logits, torch.Tensor) else logits).float()
    labels = torch.as_tensor(np.asarray(labels) if not isinstance(labels, torch.Tensor) else labels)
    if task.level == "sequence":
        keep = torch.ones(labels.shape[0], dtype=torch.bool)
        if task.problem_type != "single_label_classification" and labels.dim() > 1:
            keep = (labels != IGNORE_INDEX).all(-1)
        else:
            keep = labels != IGNORE_INDEX
        logits, labels = logits[keep], labels[keep]
    else:
        # (batch, bases[, bases], num_labels) and (batch, bases[, bases]); padded rows carry IGNORE_INDEX
        bases = labels.shape[1:]
        logits = logits[(slice(None), *[slice(0, size) for size in bases])]
        keep = labels != IGNORE_INDEX
        logits, labels = logits[keep], labels[keep]  # (positions, num_labels), (positions,)
    if task.kind == "regression":
        return (logits.squeeze(-1) if task.num_labels == 1 else logits), labels.float()
    if task.kind == "multilabel":
        return logits.sigmoid(), labels.long()
    probabilities = logits.softmax(-1)
    return (probabilities[:, 1] if task.kind == "binary" else probabilities), labels.long()


class TaskMetrics:
    """`compute_metrics` for `Trainer`: danling metrics of a `Task`, with lower-case names (`"mcc"`, `"f1"`, ...).

    Works both ways `Trainer` calls it: once with every prediction, or batch by batch with
    `TrainingArguments(batch_eval_metrics=True)` (`compute_result=True` on the last batch), which keeps memory
    flat and lets base-pair predictions of different lengths be scored. Model outputs with extra tensors (such as
    `base_mask`) are fine: the first one is the logits.

    Example:
        >>> import numpy as np
        >>> from transformers import EvalPrediction
        >>> task = Task("sequence", "single_label_classification", 2, ["0", "1"], ["label"], ["sequence"], "value")
        >>> metrics = TaskMetrics(task)
        >>> logits = np.array([[2.0, -1.0], [-1.0, 2.0], [0.5, 0.0], [-2.0, 1.0]])
        >>> result = metrics(EvalPrediction(predictions=logits, label_ids=np.array([0, 1, 0, 1])))
        >>> result["accuracy"], result["mcc"]
        (1.0, 1.0)
    """

    def __init__(self, task: Task):
        self.task = task
        self.metrics = build_metrics(task)

    def __call__(self, eval_prediction, compute_result: bool = True) -> dict[str, float]:
        logits = eval_prediction.predictions
        if isinstance(logits, (tuple, list)):
            logits = logits[0]
        scores, targets = scores_and_targets(logits, eval_prediction.label_ids, self.task)
        if len(targets):
            self.metrics.update(scores.cpu(), targets.cpu())
        return self.result() if compute_result else {}

    def result(self) -> dict[str, float]:
        """The metrics over everything seen since the last result, and a fresh start."""
        # several regression outputs: the mean over outputs
        result = {name: float(torch.as_tensor(value).float().mean()) for name, value in self.metrics.average().items()}
        self.metrics = build_metrics(self.task)
        return result
