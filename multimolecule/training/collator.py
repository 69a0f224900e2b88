"""The data collator for fine-tuning: pads token ids, and labels per base (1-D) or per base pair (2-D) with -100."""

from __future__ import annotations

from dataclasses import dataclass

import torch

IGNORE_INDEX = -100


def pad_labels(labels: list, ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    """Stack labels of one batch, padding per-base lists and base-pair matrices with `ignore_index`.

    Scalars give (batch,), lists (batch, longest), matrices (batch, longest, longest); integer labels stay
    integers (class ids), anything else becomes float32.

    Example:
        >>> pad_labels([[0, 1, 2], [1]]).tolist()
        [[0, 1, 2], [1, -100, -100]]
        >>> pad_labels([[[0, 1], [1, 0]], [[1]]]).shape
        torch.Size([2, 2, 2])
        >>> pad_labels([0.5, 1.0]).dtype
        torch.float32
    """
    tensors = [torch.as_tensor(label) for label in labels]
    integer = all(not t.is_floating_point() for t in tensors)
    dtype = torch.long if integer else torch.float32
    dims = tensors[0].dim()
    if any(t.dim() != dims for t in tensors):
        raise ValueError("labels of one batch must all be scalars, all lists or all matrices")
    if dims == 0:
        return torch.stack(tensors).to(dtype)
    shape = [max(t.shape[d] for t in tensors) for d in range(dims)]
    padded = torch.full((len(tensors), *shape), ignore_index, dtype=dtype)
    for i, t in enumerate(tensors):
        padded[(i, *[slice(0, s) for s in t.shape])] = t.to(dtype)
    return padded


@dataclass
class DataCollatorForBaseLevelLabels:
    """Pad `input_ids` (and `attention_mask`) with the tokenizer, and `labels` with -100 in every base axis.

    A drop-in replacement for `DataCollatorWithPadding` / `DataCollatorForTokenClassification` that works with
    our heads: per-base labels count bases, not tokens, so they are padded to the longest sequence in bases
    (1-D), and base-pair labels to a square of that size (2-D). Sequence-level labels are stacked.

    Example:
        >>> from transformers import AutoTokenizer
        >>> from multimolecule.models import resolve_name
        >>> tokenizer = AutoTokenizer.from_pretrained(resolve_name("dnabert2-demo"))
        >>> collator = DataCollatorForBaseLevelLabels(tokenizer)
        >>> batch = collator([
        ...     {"input_ids": tokenizer("ACGTAC")["input_ids"], "labels": [0, 0, 1, 1, 2, 2]},
        ...     {"input_ids": tokenizer("ACG")["input_ids"], "labels": [1, 1, 1]},
        ... ])
        >>> batch["labels"].tolist()
        [[0, 0, 1, 1, 2, 2], [1, 1, 1, -100, -100, -100]]
        >>> batch["input_ids"].shape == batch["attention_mask"].shape
        True
    """

    tokenizer: object
    pad_to_multiple_of: int | None = None

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        labels = [feature["labels"] for feature in features] if "labels" in features[0] else None
        inputs = [{k: v for k, v in feature.items() if k != "labels"} for feature in features]
        batch = self.tokenizer.pad(inputs, pad_to_multiple_of=self.pad_to_multiple_of, return_tensors="pt")
        batch = dict(batch)
        if labels is not None:
            batch["labels"] = pad_labels(labels)
        return batch
