"""Fine-tuning DNA language models: the machinery behind `multimolecule train`, `evaluate` and `predict`.

For your own `transformers.Trainer`, use `DataCollatorForBaseLevelLabels` (pads per-base labels with -100, and
base-pair labels in 2-D) and `TaskMetrics(task)` as `compute_metrics` (danling metrics; pass
`batch_eval_metrics=True` to `TrainingArguments` to score batch by batch).
"""

from .collator import DataCollatorForBaseLevelLabels, pad_labels
from .config import LORA_TARGET_MODULES, TrainConfig, resolve_config
from .data import ShiftedViews, Splits, encode_rows, read_splits
from .metrics import TaskMetrics, build_metrics
from .tasks import Task, infer_task

__all__ = [
    "LORA_TARGET_MODULES",
    "DataCollatorForBaseLevelLabels",
    "ShiftedViews",
    "Splits",
    "Task",
    "TaskMetrics",
    "TrainConfig",
    "build_metrics",
    "encode_rows",
    "infer_task",
    "pad_labels",
    "read_splits",
    "resolve_config",
]
