"""The prediction models' contract with transformers: vocabulary resizing, `inputs_embeds`, sparse prediction."""

from __future__ import annotations

import inspect

import pytest
import torch
from transformers import AutoModelForMaskedLM, AutoTokenizer

from multimolecule import (
    AutoModelForContactPrediction,
    AutoModelForSequencePrediction,
    AutoModelForTokenPrediction,
    NucleotideTransformerConfig,
    NucleotideTransformerModel,
)
from multimolecule.demo import demo_model_path

from ..helpers import DEMOS

TEXTS = ["ACGTAGCTAGGATCCAATGCGCAT", "GGCCATTAGC"]


def encode(name: str) -> dict[str, torch.Tensor]:
    tokenizer = AutoTokenizer.from_pretrained(demo_model_path(name))
    return dict(tokenizer(TEXTS, padding=True, return_tensors="pt"))


@pytest.mark.parametrize(("name", "tied"), [("dnabert2-demo", True), ("nt-demo", False)])
def test_resize_token_embeddings_adds_tokens(name: str, tied: bool) -> None:
    """Two new tokens, with the decoder tied to the embeddings (DNABERT-2) and untied (the Nucleotide
    Transformer): the next forward gives the new vocabulary's width, the old tokens' logits are unchanged and a new
    token id runs."""
    model = AutoModelForMaskedLM.from_pretrained(demo_model_path(name)).eval()
    assert (model.lm_head.decoder.weight is model.model.embeddings.word_embeddings.weight) == tied
    inputs = encode(name)
    old_vocab = model.config.vocab_size
    with torch.no_grad():
        before = model(**inputs).logits
        model.resize_token_embeddings(old_vocab + 2)
        after = model(**inputs).logits
        new_ids = inputs["input_ids"].clone()
        new_ids[:, 1] = old_vocab + 1
        with_new_token = model(input_ids=new_ids, attention_mask=inputs["attention_mask"]).logits
    assert model.config.vocab_size == old_vocab + 2
    assert model.lm_head.bias.shape == (old_vocab + 2,)
    assert after.shape[-1] == with_new_token.shape[-1] == old_vocab + 2
    torch.testing.assert_close(after[..., :old_vocab], before, rtol=1e-5, atol=1e-5)
    assert torch.equal(model.lm_head.bias[old_vocab:], torch.zeros(2))


MODEL_CLASSES = [AutoModelForMaskedLM, AutoModelForSequencePrediction, AutoModelForTokenPrediction]


@pytest.mark.parametrize("auto_class", [*MODEL_CLASSES, AutoModelForContactPrediction])
@pytest.mark.parametrize("name", DEMOS)
def test_inputs_embeds_give_the_outputs_of_input_ids(name: str, auto_class) -> None:
    model = auto_class.from_pretrained(demo_model_path(name)).eval()
    assert "inputs_embeds" in inspect.signature(type(model).forward).parameters
    inputs = encode(name)
    embeds = model.get_input_embeddings()(inputs["input_ids"])
    with torch.no_grad():
        expected = model(**inputs).logits
        if auto_class in (AutoModelForTokenPrediction, AutoModelForContactPrediction):
            # base-resolution heads read the bases of each token from input_ids; the backbone runs on the embeddings
            actual = model(inputs_embeds=embeds * 2, **inputs).logits
            assert not torch.allclose(actual, expected)
            actual = model(inputs_embeds=embeds, **inputs).logits
        else:
            actual = model(inputs_embeds=embeds, attention_mask=inputs["attention_mask"]).logits
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", DEMOS)
def test_sparse_prediction_scores_only_the_masked_positions(name: str) -> None:
    """`config.sparse_prediction` gives the loss of the full head and its logits at the labelled positions."""
    model = AutoModelForMaskedLM.from_pretrained(demo_model_path(name)).eval()
    inputs = encode(name)
    labels = torch.full_like(inputs["input_ids"], -100)
    labels[0, [2, 4]] = inputs["input_ids"][0, [2, 4]]
    labels[1, 1] = inputs["input_ids"][1, 1]
    with torch.no_grad():
        dense = model(**inputs, labels=labels)
        model.config.sparse_prediction = True
        sparse = model(**inputs, labels=labels)
        unlabelled = model(**inputs)
    assert sparse.logits.shape == (3, model.config.vocab_size)
    assert unlabelled.logits.shape == dense.logits.shape
    torch.testing.assert_close(sparse.logits, dense.logits[labels != -100], rtol=1e-5, atol=1e-5)
    expected = torch.nn.functional.cross_entropy(dense.logits[labels != -100], labels[labels != -100])
    torch.testing.assert_close(sparse.loss, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(dense.loss, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("auto_class", "pair"), [(AutoModelForTokenPrediction, False), (AutoModelForContactPrediction, True)]
)
def test_labels_padded_beyond_the_longest_sequence(auto_class, pair: bool) -> None:
    """Labels padded with -100 to more bases than the batch's longest sequence (one size for every batch, as
    `Trainer.predict` needs for base-pair labels) give the loss of labels padded to the longest; a label there is
    refused."""
    model = auto_class.from_pretrained(demo_model_path("nt-demo")).eval()
    inputs = encode("nt-demo")
    bases = max(map(len, TEXTS))
    shape = (len(TEXTS), *(bases,) * (1 + pair))
    labels = torch.randint(0, 2, shape)
    padded = torch.full((len(TEXTS), *(bases + 5,) * (1 + pair)), -100)
    padded[(slice(None), *(slice(0, bases),) * (1 + pair))] = labels
    with torch.no_grad():
        assert model(**inputs, labels=padded).loss == model(**inputs, labels=labels).loss
        padded[(0, *(bases + 1,) * (1 + pair))] = 1
        with pytest.raises(ValueError, match="must hold only -100 there"):
            model(**inputs, labels=padded)


# ----------------------------------------------------------------------------------------- `inputs_embeds`


def test_learned_positions_of_inputs_embeds_follow_the_attention_mask() -> None:
    """Nucleotide Transformer v1 (learned positions): a left-padded batch of embeddings gives the outputs of its ids."""
    config = NucleotideTransformerConfig(
        vocab_size=20,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        position_embedding_type="absolute",
        use_glu=False,
        max_position_embeddings=16,
    )
    model = NucleotideTransformerModel(config).eval()
    pad, cls = config.pad_token_id, config.cls_token_id
    input_ids = torch.tensor([[pad, pad, cls, 10, 11, 12], [cls, 13, 14, 15, 16, 17]])
    attention_mask = (input_ids != pad).long()
    with torch.no_grad():
        from_ids = model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        embeds = model.get_input_embeddings()(input_ids)
        from_embeds = model(inputs_embeds=embeds, attention_mask=attention_mask).last_hidden_state
    real = attention_mask.bool()
    torch.testing.assert_close(from_embeds[real], from_ids[real], rtol=1e-5, atol=1e-5)
