"""Held-out masked-token metrics, against a direct computation over the vocabulary."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from transformers import EvalPrediction

from multimolecule import NucleotideTransformerTokenizer
from multimolecule.pretraining import MaskedTokenMetrics


def expected_metrics(tokenizer, logits: np.ndarray, labels: np.ndarray) -> dict:
    vocab = tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))
    dna = [i for i, t in enumerate(vocab) if t and set(t) <= set("ACGT")]
    rows, targets = logits[labels != -100].astype(np.float64), labels[labels != -100]
    log_probabilities = (
        rows - np.log(np.exp(rows - rows.max(1, keepdims=True)).sum(1, keepdims=True)) - rows.max(1, keepdims=True)
    )
    correct = base_correct = 0
    for row, target in zip(rows, targets):
        correct += int(row.argmax() == target)
        weights = np.exp(row[dna] - row[dna].max())
        per_base = {base: sum(w for w, i in zip(weights, dna) if vocab[i][0] == base) for base in "ACGT"}
        base_correct += int(max(per_base, key=per_base.get) == vocab[target][0])
    tokens, counts = np.unique(targets, return_counts=True)
    first = [vocab[t][0] for t in targets]
    return {
        "accuracy": correct / len(targets),
        "perplexity": math.exp(-log_probabilities[np.arange(len(targets)), targets].mean()),
        "first_base_accuracy": base_correct / len(targets),
        "baseline_accuracy": counts.max() / len(targets),
        "first_base_baseline_accuracy": max(first.count(b) for b in "ACGT") / len(targets),
        "masked_tokens": len(targets),
    }


def test_metrics_match_a_direct_computation_batch_by_batch_and_sparse():
    tokenizer = NucleotideTransformerTokenizer.standard()
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 20, len(tokenizer))).astype(np.float32) * 3
    labels = np.full((6, 20), -100)
    chosen = rng.random((6, 20)) < 0.3
    labels[chosen] = rng.choice([6, 7, 8, 100, 4101, 4102], size=chosen.sum(), p=[0.5, 0.1, 0.1, 0.1, 0.1, 0.1])
    labels[0, :3] = 6  # a batch with a clear most frequent token
    logits[0, 0, 6] = 50.0  # and one sure right answer
    expected = expected_metrics(tokenizer, logits, labels)

    metrics = MaskedTokenMetrics(tokenizer)
    whole = metrics(EvalPrediction(predictions=logits, label_ids=labels))
    for name, value in expected.items():
        assert math.isclose(whole[name], value, rel_tol=1e-5), name
    for start in range(0, 6, 2):  # batch by batch, as Trainer calls it with batch_eval_metrics
        batch = EvalPrediction(
            predictions=torch.tensor(logits[start : start + 2]), label_ids=torch.tensor(labels[start : start + 2])
        )
        result = metrics(batch, compute_result=start == 4)
    assert result == pytest.approx(whole, rel=1e-5)
    sparse = torch.tensor(logits[labels != -100])  # logits only at the masked positions, (masked, vocab)
    assert metrics(EvalPrediction(predictions=sparse, label_ids=labels)) == pytest.approx(whole, rel=1e-5)
