"""The Nucleotide Transformer model against the original implementations' outputs
(../shared/fixtures/nucleotide_transformer/nt_v2_tiny_a, in the PyTorch and the JAX layout; transformers' own ESM
for v1) and its model cards."""

from __future__ import annotations

import pytest
import torch
from transformers import (
    AutoTokenizer,
)

from multimolecule import (
    NucleotideTransformerForMaskedLM,
    NucleotideTransformerModel,
)

from ...helpers import masked_max_diff, python_blocks, shared_path

HIDDEN_ATOL, LOGITS_ATOL = 1e-4, 5e-4


# Parity with the originals


@pytest.mark.parametrize(
    "layout, hidden_atol, logits_atol", [("pytorch", HIDDEN_ATOL, LOGITS_ATOL), ("jax", 6e-5, 2e-4)]
)
@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("with_mask", [True, False])
def test_parity_v2(conversions, reference, layout, hidden_atol, logits_atol, attn_implementation, with_mask):
    # JAX keeps LayerNorm eps 1e-5 where the reference (the PyTorch port) uses 1e-12: ~4e-5 / ~1.3e-4 expected.
    path = conversions[layout].output_path
    model = NucleotideTransformerForMaskedLM.from_pretrained(path, attn_implementation=attn_implementation).eval()
    mask = reference["attention_mask"]
    with torch.no_grad():
        output = model(reference["input_ids"], attention_mask=mask if with_mask else None, output_hidden_states=True)
    num_layers = model.config.num_hidden_layers
    assert len(output.hidden_states) == num_layers + 1
    for index in range(num_layers + 1):
        assert masked_max_diff(output.hidden_states[index], reference[f"hidden_states.{index}"], mask) < hidden_atol
    assert masked_max_diff(output.hidden_states[-1], reference["last_hidden_state"], mask) < hidden_atol
    assert masked_max_diff(output.logits, reference["logits"], mask) < logits_atol


@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
@pytest.mark.parametrize("with_mask", [True, False])
def test_parity_v1(v1, attn_implementation, with_mask):
    path, batch, expected = v1["report"].output_path, v1["batch"], v1["expected"]
    model = NucleotideTransformerForMaskedLM.from_pretrained(path, attn_implementation=attn_implementation).eval()
    assert model.config.position_embedding_type == "absolute" and not model.config.use_glu
    mask = batch["attention_mask"]
    with torch.no_grad():
        output = model(batch["input_ids"], attention_mask=mask if with_mask else None, output_hidden_states=True)
    assert len(output.hidden_states) == len(expected.hidden_states) == 3
    for actual, wanted in zip(output.hidden_states, expected.hidden_states):
        assert masked_max_diff(actual, wanted, mask) < HIDDEN_ATOL
    assert masked_max_diff(output.logits, expected.logits, mask) < LOGITS_ATOL
    assert v1["report"].dropped == ["esm.contact_head.regression.bias", "esm.contact_head.regression.weight"]
    assert AutoTokenizer.from_pretrained(path).model_max_length == 64  # 66 positions, counted from pad_token_id + 1


def test_hidden_states_follow_the_original_convention(converted, reference):
    model = NucleotideTransformerModel.from_pretrained(converted).eval()
    mask = reference["attention_mask"]
    with torch.no_grad():
        output = model(reference["input_ids"], attention_mask=mask, output_hidden_states=True)
    assert torch.equal(output.hidden_states[-1], output.last_hidden_state)  # after the final LayerNorm
    assert masked_max_diff(output.hidden_states[1], reference["layer_outputs.0"], mask) < HIDDEN_ATOL
    assert masked_max_diff(output.hidden_states[-1], reference["layer_outputs.1"], mask) > 0.1  # not the raw output


def test_mlm_loss_ignores_minus_100(converted, reference):
    model = NucleotideTransformerForMaskedLM.from_pretrained(converted).eval()
    labels = torch.full_like(reference["input_ids"], -100)
    labels[0, 3], labels[1, 5], labels[2, 1] = 369, 4102, 6
    with torch.no_grad():
        output = model(reference["input_ids"], attention_mask=reference["attention_mask"], labels=labels)
    rows = reference["logits"][[0, 1, 2], [3, 5, 1]]
    expected = torch.nn.functional.cross_entropy(rows, torch.tensor([369, 4102, 6]))
    assert abs(output.loss.item() - expected.item()) < 1e-4


# Model behaviour


def test_encoder_attention_mask_is_accepted_and_checked(converted, reference):
    model = NucleotideTransformerModel.from_pretrained(converted).eval()
    mask = reference["attention_mask"].bool()
    with torch.no_grad():
        output = model(reference["input_ids"], attention_mask=mask, encoder_attention_mask=mask)
    assert masked_max_diff(output.last_hidden_state, reference["last_hidden_state"], mask) < HIDDEN_ATOL
    with pytest.raises(ValueError, match="no cross-attention"):
        model(reference["input_ids"], attention_mask=mask, encoder_attention_mask=torch.ones_like(mask))


def test_rotary_tables_stay_fp32_in_half_precision(converted):
    model = NucleotideTransformerForMaskedLM.from_pretrained(converted, dtype=torch.float16).eval()
    cos, sin = model.model.encoder.rotary(torch.arange(4)[None])
    assert cos.dtype == sin.dtype == torch.float32


# The model card


def test_converted_model_card_runs(converted):
    (block,) = python_blocks((converted / "README.md").read_text())
    namespace: dict = {}
    exec(block.replace("THIS_DIRECTORY", str(converted)), namespace)
    assert namespace["embeddings"].shape == (2, 9, 64)  # <cls>, five 6-mers, three bases


@pytest.mark.filterwarnings("ignore:__array_wrap__:DeprecationWarning")  # the card multiplies a tensor by an array
def test_original_model_card_runs_as_written(converted, capsys):
    card = shared_path("model-cards", "nucleotide-transformer-v2-100m-multi-species.md")
    (block,) = python_blocks(card.read_text())
    assert "trust_remote_code=True" in block
    namespace: dict = {}
    exec(block.replace("InstaDeepAI/nucleotide-transformer-v2-100m-multi-species", str(converted)), namespace)
    assert isinstance(namespace["model"], NucleotideTransformerForMaskedLM)
    assert namespace["embeddings"].shape == (2, 1000, 64)
    assert namespace["mean_sequence_embeddings"].shape == (2, 64)
    assert "Embeddings shape: (2, 1000, 64)" in capsys.readouterr().out
