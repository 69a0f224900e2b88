"""The DNABERT-2 model against the original implementation's outputs (../shared/fixtures/dnabert2/tiny_a) and its
model card as published."""

from __future__ import annotations

import pytest
import torch

from multimolecule import (
    DnaBert2ForMaskedLM,
    DnaBert2Model,
)
from multimolecule.modules import alibi_slopes

from ...helpers import masked_max_diff, python_blocks, shared_path

HIDDEN_ATOL, LOGITS_ATOL, LOSS_ATOL = 1e-4, 5e-4, 1e-4


# Parity with the original


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("with_mask", [True, False])
def test_parity_padded_batch(converted, reference, attn_implementation, with_mask):
    model = DnaBert2ForMaskedLM.from_pretrained(converted, attn_implementation=attn_implementation).eval()
    mask = reference["attention_mask"]
    with torch.no_grad():
        output = model(
            reference["input_ids"],
            attention_mask=mask if with_mask else None,
            token_type_ids=reference["token_type_ids"],
            output_hidden_states=True,
        )
    assert len(output.hidden_states) == model.config.num_hidden_layers + 1
    assert masked_max_diff(output.hidden_states[0], reference["embedding_output"], mask) < HIDDEN_ATOL
    for index in range(model.config.num_hidden_layers):
        assert masked_max_diff(output.hidden_states[index + 1], reference[f"layer_{index}_output"], mask) < HIDDEN_ATOL
    assert masked_max_diff(output.hidden_states[-1], reference["last_hidden_state"], mask) < HIDDEN_ATOL
    assert masked_max_diff(output.logits, reference["mlm_logits"], mask) < LOGITS_ATOL


def test_parity_alibi(converted, reference):
    model = DnaBert2Model.from_pretrained(converted).eval()
    slopes = torch.tensor(alibi_slopes(model.config.num_attention_heads))
    assert torch.allclose(slopes, reference["alibi_slopes"])
    length = reference["input_ids"].shape[1]
    bias = model.encoder.alibi(length, torch.device("cpu"))
    assert torch.allclose(bias, reference["alibi_bias"], atol=1e-6)


def test_parity_pooler(converted, reference):
    model = DnaBert2Model.from_pretrained(converted).eval()
    model.pooler.dense.weight.data.copy_(reference["pooler.dense.weight"])
    model.pooler.dense.bias.data.copy_(reference["pooler.dense.bias"])
    with torch.no_grad():
        pooled = model(reference["input_ids"], attention_mask=reference["attention_mask"]).pooler_output
    assert (pooled - reference["pooled_output"]).abs().max().item() < HIDDEN_ATOL


def test_parity_mlm_loss(converted, reference):
    model = DnaBert2ForMaskedLM.from_pretrained(converted).eval()
    with torch.no_grad():
        output = model(
            reference["input_ids"], attention_mask=reference["attention_mask"], labels=reference["mlm_labels"]
        )
    assert abs(output.loss.item() - reference["mlm_loss"].item()) < LOSS_ATOL
    rows = output.logits.view(-1, output.logits.shape[-1])[reference["mlm_masked_flat_index"]]
    assert (rows - reference["mlm_logits_with_labels_masked_rows"]).abs().max().item() < LOGITS_ATOL


# Model behaviour


def test_any_length_and_shift_invariance(converted):
    model = DnaBert2Model.from_pretrained(converted).eval()
    ids = torch.randint(5, 4096, (1, 1500))
    with torch.no_grad():
        long = model(ids).last_hidden_state
        left_padded = model(
            torch.cat([torch.full((1, 7), 3), ids], dim=1),
            attention_mask=torch.cat([torch.zeros(1, 7), torch.ones(1, 1500)], 1),
        ).last_hidden_state
    assert long.shape == (1, 1500, 64)
    assert (left_padded[:, 7:] - long).abs().max().item() < 1e-4


def test_return_dict_false_gives_tuple(converted, reference):
    model = DnaBert2Model.from_pretrained(converted).eval()
    with torch.no_grad():
        output = model(reference["input_ids"], return_dict=False)
    assert isinstance(output, tuple) and output[0].shape == (3, 17, 64)


# The model card


def test_model_card_runs_as_written(converted):
    card = shared_path("model-cards", "dnabert2.md")
    blocks = python_blocks(card.read_text())
    assert len(blocks) == 5  # fill-mask, features, sequence, token, contact
    for block in blocks:
        namespace: dict = {}
        exec(block.replace("multimolecule/dnabert2", str(converted)), namespace)
        assert "output" in namespace
        output = namespace["output"]
        if "label" in namespace:
            assert torch.isfinite(output.loss)
        if isinstance(output, list):
            assert all(" " not in prediction["sequence"] for prediction in output)
