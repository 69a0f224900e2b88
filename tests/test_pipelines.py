"""`pipeline("token-classification")` on the per-base heads (`BaseTokenClassificationPipeline`): one entity per base
with the model's probabilities, runs of one label joined into spans, and words given apart placed in the text."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoTokenizer, pipeline

from multimolecule import AutoModelForTokenPrediction
from multimolecule.demo import demo_model_path

from .helpers import DEMOS


@pytest.mark.parametrize("demo", DEMOS)
def test_token_classification_pipeline_answers_per_base(demo, tmp_path):
    path = demo_model_path(demo)
    model = AutoModelForTokenPrediction.from_pretrained(path, id2label={0: "AT", 1: "GC"})
    model.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(path).save_pretrained(tmp_path)
    tagger = pipeline("token-classification", model=str(tmp_path))
    text = "ACGTTTGCCAGGNTA"
    with torch.no_grad():
        expected = model.eval()(**tagger.tokenizer(text, return_tensors="pt")).logits[0].softmax(-1)
    bases = tagger(text, ignore_labels=[])
    assert [base["word"] for base in bases] == list(text)
    assert [(base["start"], base["end"], base["index"]) for base in bases] == [(i, i + 1, i) for i in range(len(text))]
    assert [base["entity"] for base in bases] == [model.config.id2label[i] for i in expected.argmax(-1).tolist()]
    assert torch.allclose(torch.tensor([float(base["score"]) for base in bases]), expected.max(-1).values, atol=1e-5)
    spans = tagger(text, ignore_labels=[], aggregation_strategy="simple")
    assert "".join(span["word"] for span in spans) == text  # runs of bases with one label, covering the text
    assert all(text[span["start"] : span["end"]] == span["word"] for span in spans)


def test_words_given_apart_are_placed_in_the_joined_text():
    """With `is_split_into_words`, offsets are per word: each base is placed in the words joined by a space."""
    path = demo_model_path("nt-demo")
    model = AutoModelForTokenPrediction.from_pretrained(path, id2label={0: "AT", 1: "GC"})
    tagger = pipeline("token-classification", model=model, tokenizer=str(path))
    words = ["ACGTACAATG", "GGTTA", "CCA"]
    (bases,) = tagger([words], is_split_into_words=True, ignore_labels=[])
    text = " ".join(words)
    assert [base["start"] for base in bases] == [i for i, character in enumerate(text) if character != " "]
    assert [base["word"] for base in bases] == list("".join(words))
    assert [base["index"] for base in bases] == list(range(len("".join(words))))
