"""Initialisation of the heads' own weights (`multimolecule.modules.initialization`), directly and for a new head
added to a pre-trained backbone."""

from __future__ import annotations

import torch
from transformers import PretrainedConfig

from multimolecule import AutoModelForContactPrediction
from multimolecule.demo import demo_model_path
from multimolecule.modules.heads import BaseEmbeddings, ContactPredictionHead, MaskedLMHead
from multimolecule.modules.initialization import init_head_weights

CONFIG = PretrainedConfig(
    hidden_size=64, vocab_size=10, layer_norm_eps=1e-12, hidden_dropout=0.0, num_labels=2, token_lengths=[0, 6]
)


def assert_standard_normal(values: torch.Tensor) -> None:
    assert abs(values.mean().item()) < 0.2 and 0.8 < values.std().item() < 1.2, (values.mean(), values.std())


def test_biases_are_zeroed_and_base_embeddings_drawn_at_unit_scale():
    torch.manual_seed(0)
    masked_lm, contact = MaskedLMHead(CONFIG), ContactPredictionHead(CONFIG)
    embeddings = BaseEmbeddings(CONFIG)
    with torch.no_grad():
        for parameter in (masked_lm.bias, contact.bias, embeddings.nucleotide_embeddings, embeddings.offset_embeddings):
            parameter.fill_(3.0)
    for module in (masked_lm, contact, embeddings):
        init_head_weights(module)
    assert not masked_lm.bias.any() and not contact.bias.any()
    assert_standard_normal(embeddings.nucleotide_embeddings)
    assert_standard_normal(embeddings.offset_embeddings)


def test_a_new_head_on_a_pre_trained_backbone_starts_from_these_values():
    torch.manual_seed(0)
    model = AutoModelForContactPrediction.from_pretrained(demo_model_path("nt-demo"), num_labels=2)
    head = model.classifier
    assert not head.bias.any()
    assert_standard_normal(head.base_embeddings.nucleotide_embeddings)
    assert_standard_normal(head.base_embeddings.offset_embeddings)
