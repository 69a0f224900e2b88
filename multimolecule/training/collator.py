"""The data collator for fine-tuning: pads token ids, and labels per base (1-D) or per base pair (2-D) with -100;
and `pad_logits_to_labels`, which pads logits as the labels are padded, for `Trainer.predict`."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


def pad_labels(labels: list, ignore_index: int = IGNORE_INDEX, bases: int | None = None) -> torch.Tensor:
    """Stack labels of one batch, padding per-base lists and base-pair matrices with `ignore_index`.

    Scalars give (batch,), lists (batch, longest), matrices (batch, longest, longest); `bases`, given for per-base
    lists and base-pair matrices, takes the place of the longest. Integer labels stay integers (class ids),
    anything else becomes float32.

    Example:
        >>> pad_labels([[0, 1, 2], [1]]).tolist()
        [[0, 1, 2], [1, -100, -100]]
        >>> pad_labels([[[0, 1], [1, 0]], [[1]]]).shape
        torch.Size([2, 2, 2])
        >>> pad_labels([[[0, 1], [1, 0]], [[1]]], bases=4).shape
        torch.Size([2, 4, 4])
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
    if bases is not None:
        if max(shape) > bases:
            raise ValueError(f"labels of {max(shape)} bases do not fit in the {bases} bases to pad to")
        shape = [bases] * dims
    padded = torch.full((len(tensors), *shape), ignore_index, dtype=dtype)
    for i, t in enumerate(tensors):
        padded[(i, *[slice(0, s) for s in t.shape])] = t.to(dtype)
    return padded


@dataclass
class DataCollatorForBaseLevelLabels:
    """Pad `input_ids` (and `attention_mask`) with the tokenizer, and `labels` with -100 in every base axis.

    A drop-in replacement for `DataCollatorWithPadding` / `DataCollatorForTokenClassification` that works with
    our heads: per-base labels count bases, not tokens, so they are padded to the longest sequence in bases
    (1-D), and base-pair labels to a square of that size (2-D). Sequence-level labels are stacked. With `bases`
    (the longest sequence of the data, in bases), per-base and base-pair labels are padded to that size in every
    batch, which `Trainer.predict` needs for base-pair labels (see `pad_logits_to_labels`).

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
    bases: int | None = None

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        labels = [feature["labels"] for feature in features] if "labels" in features[0] else None
        inputs = [{k: v for k, v in feature.items() if k != "labels"} for feature in features]
        batch = self.tokenizer.pad(inputs, pad_to_multiple_of=self.pad_to_multiple_of, return_tensors="pt")
        batch = dict(batch)
        if labels is not None:
            batch["labels"] = pad_labels(labels, bases=self.bases)
        return batch


def pad_logits_to_labels(logits: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """Pad the base axes of per-base and base-pair `logits` with -100 to the size of `labels`: the
    `preprocess_logits_for_metrics` of a `Trainer` whose collator pads labels to a fixed size
    (`DataCollatorForBaseLevelLabels(tokenizer, bases=...)`).

    `Trainer.predict` concatenates batches padding only their second axis, so base-pair logits (batch, bases,
    bases, labels) of batches with different longest sequences do not concatenate; padded to one size, they do,
    and stay per base, padded with -100 as `Trainer` pads per-base logits. Sequence-level logits are unchanged.

    Example:
        >>> logits = torch.zeros(2, 3, 3, 2)  # a batch whose longest sequence has 3 bases
        >>> pad_logits_to_labels(logits, torch.full((2, 5, 5), -100)).shape
        torch.Size([2, 5, 5, 2])
        >>> pad_logits_to_labels(torch.zeros(2, 4), torch.tensor([0, 1])).shape  # sequence level
        torch.Size([2, 4])
    """
    if labels is None:
        return logits
    sizes = zip(logits.shape[1:-1], labels.shape[1:])  # the base axes: none at sequence level
    padding = [amount for have, size in reversed(list(sizes)) for amount in (0, size - have)]
    return F.pad(logits, [0, 0, *padding], value=IGNORE_INDEX)
