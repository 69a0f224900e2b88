"""Losses of the prediction heads: `config.problem_type` over labelled positions, divided as `Trainer` asks."""

from __future__ import annotations

import torch
from torch.nn import functional as F

PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")


def prediction_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    mask: torch.Tensor,
    config,
    num_items_in_batch: torch.Tensor | int | None = None,
) -> torch.Tensor:
    """The loss of `config.problem_type` over the positions where `mask` is True and labels are not -100.

    `logits` is (..., num_labels) and `mask` matches its leading dimensions; labels are (...) class ids or
    single regression targets, or (..., num_labels) for multi-label or multi-output targets. The loss is summed
    over the labelled values and divided by `num_items_in_batch` when given (what `Trainer` passes: the labelled
    values of the whole accumulated batch, so gradient accumulation gives the loss of one big batch, as in
    transformers' own models), else by their number here. With no labelled value it is 0, not NaN. When
    `config.problem_type` is unset it is inferred as transformers does: one label means regression, integer
    labels single-label classification, anything else multi-label classification.

    Example:
        >>> from transformers import PretrainedConfig
        >>> config = PretrainedConfig(num_labels=2)
        >>> logits, mask = torch.zeros(1, 3, 2), torch.ones(1, 3, dtype=torch.bool)
        >>> prediction_loss(logits, torch.tensor([[1, 0, -100]]), mask, config)  # log(2)
        tensor(0.6931)
        >>> prediction_loss(logits, torch.full((1, 3), -100), mask, config)
        tensor(0.)
    """
    if config.problem_type is None:
        if config.num_labels == 1:
            config.problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int, torch.int16, torch.int8, torch.uint8):
            config.problem_type = "single_label_classification"
        else:
            config.problem_type = "multi_label_classification"
    if config.problem_type not in PROBLEM_TYPES:
        raise ValueError(f"problem_type must be one of {PROBLEM_TYPES}, got {config.problem_type!r}")

    labels = labels.to(logits.device)
    if config.problem_type == "single_label_classification":
        labelled = mask & (labels != -100)  # (...)
        loss = F.cross_entropy(logits[labelled], labels[labelled].long(), reduction="sum")
    else:
        predictions = logits.squeeze(-1) if labels.dim() == mask.dim() else logits  # one target, or one per label
        labelled = (mask if predictions.dim() == mask.dim() else mask[..., None]) & (labels != -100)
        targets = labels[labelled].to(logits.dtype)
        if config.problem_type == "regression":
            loss = F.mse_loss(predictions[labelled], targets, reduction="sum")
        else:
            loss = F.binary_cross_entropy_with_logits(predictions[labelled], targets, reduction="sum")
    return labelled_mean(loss, labelled, num_items_in_batch)


def labelled_mean(
    loss_sum: torch.Tensor, labelled: torch.Tensor, num_items_in_batch: torch.Tensor | int | None = None
) -> torch.Tensor:
    """`loss_sum` divided by `num_items_in_batch` when given, else by the number of True values of `labelled`;
    0 when there is nothing to divide by."""
    count = labelled.sum() if num_items_in_batch is None else torch.as_tensor(num_items_in_batch)
    return loss_sum / count.to(loss_sum.device).clamp(min=1)
