"""Fine-tuning DNA language models: the machinery behind `multimolecule train`, `evaluate` and `predict`.

For your own `transformers.Trainer`, use `DataCollatorForBaseLevelLabels` (pads per-base labels with -100, and
base-pair labels in 2-D) and `TaskMetrics(task)` as `compute_metrics` (danling metrics; pass
`batch_eval_metrics=True` to `TrainingArguments` to score batch by batch). For `Trainer.predict` on base-pair
batches of different lengths, pad the labels to one size (`DataCollatorForBaseLevelLabels(tokenizer, bases=N)`)
and pass `pad_logits_to_labels` as `preprocess_logits_for_metrics`.

The names below are imported from their modules when first used (PEP 562), so that `multimolecule train --help`,
which reads `TrainConfig` from `multimolecule.training.config` to build its options, imports no torch.

Example:
    >>> from multimolecule.training import TrainConfig, DataCollatorForBaseLevelLabels
    >>> TrainConfig().pooling, DataCollatorForBaseLevelLabels.__module__
    ('mean', 'multimolecule.training.collator')
"""

from ..utils.lazy import lazy_exports

MODULES = {
    "collator": ("DataCollatorForBaseLevelLabels", "pad_labels", "pad_logits_to_labels"),
    "config": ("TrainConfig", "resolve_config"),
    "settings": ("SETTINGS",),
    "data": ("ShiftedViews", "Splits", "encode_rows", "read_splits"),
    "metrics": ("TaskMetrics", "build_metrics"),
    "tasks": ("Task", "infer_task"),
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, MODULES)
