"""`Trainer.predict` on the base-resolution heads gives what transformers' token-classification recipe expects:
logits per base, padded, and labels of -100 where there is no base; `TaskMetrics` reads the same arrays. Base-pair
batches of different lengths need the labels padded to one size and `pad_logits_to_labels` (docs/fine-tuning.md)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoTokenizer, Trainer, TrainingArguments

from multimolecule import AutoModelForContactPrediction, AutoModelForTokenPrediction
from multimolecule.demo import demo_model_path
from multimolecule.training import DataCollatorForBaseLevelLabels, TaskMetrics, pad_logits_to_labels
from multimolecule.training.tasks import Task

from ..helpers import DEMOS

# two batches of two, whose longest texts have the same number of bases (20) or not (20 and 12)
SAME_LONGEST = ["ACGTAGCTAGGATCCAATGC", "GGCCATTAGCTT", "TTAGCATGCAAGGCTAGCAT", "ACGTTGCA"]
DIFFERENT_LONGEST = ["ACGTAGCTAGGATCCAATGC", "GGCCATTAGCTT", "TTAGCATGCAAG", "ACGTTGCA"]


def gc(text: str) -> list[int]:
    return [int(base in "GC") for base in text]


def pairs(text: str) -> list[list[int]]:
    complement = {"A": "T", "T": "A", "C": "G", "G": "C"}
    return [[int(complement[a] == b) for b in text] for a in text]


def token_classification_metrics(eval_prediction) -> dict[str, float]:
    """The `compute_metrics` of transformers' token-classification recipe, unchanged but for the base axes."""
    predictions, labels = eval_prediction
    predictions = np.argmax(predictions, axis=-1)
    keep = labels != -100
    return {"accuracy": float((predictions[keep] == labels[keep]).mean()), "labelled": int(keep.sum())}


@pytest.mark.parametrize("texts", [SAME_LONGEST, DIFFERENT_LONGEST], ids=["same-longest", "different-longest"])
@pytest.mark.parametrize("level", ["token", "contact"])
@pytest.mark.parametrize("name", DEMOS)
def test_trainer_predict_gives_padded_logits_per_base(name: str, level: str, texts: list[str], tmp_path: Path) -> None:
    auto_class = AutoModelForTokenPrediction if level == "token" else AutoModelForContactPrediction
    model = auto_class.from_pretrained(demo_model_path(name)).eval()
    tokenizer = AutoTokenizer.from_pretrained(demo_model_path(name))
    label = gc if level == "token" else pairs
    dataset = [{**tokenizer(text), "labels": label(text)} for text in texts]
    longest = max(map(len, texts))
    arguments = TrainingArguments(tmp_path, per_device_eval_batch_size=2, report_to=[], use_cpu=True)
    if level == "token":  # Trainer pads per-base logits and labels itself
        collator, preprocess = DataCollatorForBaseLevelLabels(tokenizer), None
    else:  # every batch padded to the longest sequence of the data, as docs/fine-tuning.md shows
        collator, preprocess = DataCollatorForBaseLevelLabels(tokenizer, bases=longest), pad_logits_to_labels
    trainer = Trainer(
        model,
        arguments,
        data_collator=collator,
        compute_metrics=token_classification_metrics,
        preprocess_logits_for_metrics=preprocess,
    )
    output = trainer.predict(dataset)

    assert isinstance(output.predictions, np.ndarray)
    assert output.predictions.shape == (len(texts), *(longest,) * (1 + (level == "contact")), 2)
    assert output.label_ids.shape == output.predictions.shape[:-1]
    for row, text in enumerate(texts):
        with torch.no_grad():
            logits = model(**tokenizer(text, return_tensors="pt")).logits[0].numpy()  # (bases[, bases], 2)
        bases = (slice(0, len(text)),) * (logits.ndim - 1)
        np.testing.assert_allclose(output.predictions[row][bases], logits, rtol=1e-4, atol=1e-5)
        labels = output.label_ids[row]
        assert (labels[bases] != -100).all() and (labels == -100).sum() == labels.size - labels[bases].size
    labelled = sum(len(text) ** (1 + (level == "contact")) for text in texts)
    assert output.metrics["test_labelled"] == labelled

    task = Task(level, "single_label_classification", 2, ["0", "1"], ["label"], ["sequence"], "value")
    metrics = TaskMetrics(task)(output)  # the same arrays, read by multimolecule's metrics
    assert metrics["accuracy"] == pytest.approx(output.metrics["test_accuracy"])
