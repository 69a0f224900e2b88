"""Held-out masked-token metrics for `Trainer`, with the most-frequent-token baselines beside them."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.nn import functional as F

from ..training.collator import IGNORE_INDEX
from .masking import dna_token_ids

BASES = "ACGT"


class MaskedTokenMetrics:
    """`compute_metrics` for masked-LM evaluation, batch by batch (`batch_eval_metrics=True`) or all at once.

    - `accuracy`: the share of masked tokens whose most probable token is the right one; `perplexity`: the
      exponential of the mean cross-entropy over masked tokens;
    - `first_base_accuracy`: the share whose first base is the base with the highest summed probability over the
      DNA tokens that start with it (what `multimolecule fill-mask` reports per base);
    - `baseline_accuracy` / `first_base_baseline_accuracy`: always guessing the held-out set's most frequent
      masked token / first base (computed on the same masked tokens), the level a model must beat;
    - `masked_tokens`: how many were scored.

    Logits come per position, (batch, length, vocab), or already only at the masked positions, (masked, vocab).

    Example:
        >>> from transformers import EvalPrediction
        >>> from multimolecule import NucleotideTransformerTokenizer
        >>> tokenizer = NucleotideTransformerTokenizer.standard()
        >>> metrics = MaskedTokenMetrics(tokenizer)
        >>> logits = torch.zeros(1, 3, len(tokenizer))
        >>> logits[0, 1, 6] = 9.0  # AAAAAA
        >>> labels = torch.tensor([[-100, 6, 7]])  # AAAAAA, AAAAAT
        >>> result = metrics(EvalPrediction(predictions=logits, label_ids=labels))
        >>> result["accuracy"], result["baseline_accuracy"], result["first_base_accuracy"]
        (0.5, 0.5, 1.0)
    """

    def __init__(self, tokenizer):
        self.vocab_size = len(tokenizer)
        self.candidates = dna_token_ids(tokenizer)
        tokens = tokenizer.convert_ids_to_tokens(self.candidates.tolist())
        first = torch.full((self.vocab_size,), -1, dtype=torch.long)
        first[self.candidates] = torch.tensor([BASES.index(t[0]) for t in tokens])
        self.first_base = first  # vocabulary id -> index of its first base (-1 for non-DNA tokens)
        self.reset()

    def reset(self) -> None:
        self.correct = self.base_correct = self.total = 0
        self.cross_entropy = 0.0
        self.token_counts = torch.zeros(self.vocab_size, dtype=torch.long)
        self.base_counts = torch.zeros(len(BASES), dtype=torch.long)

    def __call__(self, eval_prediction, compute_result: bool = True) -> dict[str, float]:
        logits, labels = eval_prediction.predictions, eval_prediction.label_ids
        if isinstance(logits, (tuple, list)):
            logits = logits[0]
        logits, labels = (
            torch.as_tensor(np.asarray(x)) if not isinstance(x, torch.Tensor) else x for x in (logits, labels)
        )
        labels = labels.cpu()
        masked = labels != IGNORE_INDEX
        targets = labels[masked]  # (masked,)
        logits = logits.float().cpu()
        if logits.dim() == 3:
            logits = logits[:, : labels.shape[1]][masked]  # (masked, vocab)
        if len(targets):
            self.update(logits, targets)
        return self.result() if compute_result else {}

    def update(self, logits: torch.Tensor, targets: torch.Tensor) -> None:
        self.correct += int((logits.argmax(-1) == targets).sum())
        self.cross_entropy += float(F.cross_entropy(logits, targets, reduction="sum"))
        self.total += len(targets)
        self.token_counts += torch.bincount(targets, minlength=self.vocab_size)
        probabilities = logits[:, self.candidates].softmax(-1)  # over the DNA tokens
        per_base = torch.zeros(len(targets), len(BASES)).index_add_(1, self.first_base[self.candidates], probabilities)
        true_base = self.first_base[targets]
        self.base_correct += int((per_base.argmax(-1) == true_base).sum())
        self.base_counts += torch.bincount(true_base.clamp(min=0), minlength=len(BASES))

    def result(self) -> dict[str, float]:
        """The metrics over everything seen since the last result, and a fresh start."""
        total = max(self.total, 1)
        result = {
            "accuracy": self.correct / total,
            "perplexity": math.exp(self.cross_entropy / total),
            "first_base_accuracy": self.base_correct / total,
            "baseline_accuracy": int(self.token_counts.max()) / total,
            "first_base_baseline_accuracy": int(self.base_counts.max()) / total,
            "masked_tokens": float(self.total),
        }
        self.reset()
        return result


def per_position_logits(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """`preprocess_logits_for_metrics` for a model with `config.sparse_prediction`: its (masked, vocab) logits
    put back at their positions, (batch, length, vocab), zero elsewhere, since `Trainer` gathers and trims the
    last batch's predictions along the batch axis. Per-position logits pass unchanged.

    Example:
        >>> labels = torch.tensor([[-100, 6, -100, 7]])
        >>> per_position_logits(torch.ones(2, 5), labels)[0, :, 0].tolist()
        [0.0, 1.0, 0.0, 1.0]
    """
    if logits.dim() != 2:
        return logits
    full = logits.new_zeros((*labels.shape, logits.shape[-1]))
    full[labels != IGNORE_INDEX] = logits
    return full
