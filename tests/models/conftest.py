"""Fixtures of the model tests: a v1 Nucleotide Transformer checkpoint, which ../shared does not hold."""

from __future__ import annotations

import shutil

import pytest
import torch
from safetensors.torch import load_file
from transformers import EsmConfig, EsmForMaskedLM

from multimolecule.models.nucleotide_transformer.convert_checkpoint import convert_checkpoint

from ..helpers import fixture_dir


@pytest.fixture(scope="module")
def v1(tmp_path_factory) -> dict:
    """transformers' own EsmForMaskedLM as a v1 reference (learned positions, GELU), saved with vocab.txt, converted."""
    original = fixture_dir("nucleotide_transformer", "nt_v2_tiny_a")
    torch.manual_seed(0)
    config = EsmConfig(
        vocab_size=4107,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=96,
        max_position_embeddings=66,
        position_embedding_type="absolute",
        pad_token_id=1,
        mask_token_id=2,
        emb_layer_norm_before=False,
        token_dropout=False,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    model = EsmForMaskedLM(config).eval()
    with torch.no_grad():  # randomise LayerNorms and biases too, so that a swapped tensor shows
        for name, parameter in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name:
                parameter.copy_(float(name.endswith("weight")) + 0.2 * torch.randn_like(parameter))
            elif name.endswith("bias"):
                parameter.copy_(0.1 * torch.randn_like(parameter))
    source = tmp_path_factory.mktemp("esm") / "v1"
    model.save_pretrained(source)
    shutil.copy(original / "vocab.txt", source / "vocab.txt")
    report = convert_checkpoint(source, source.parent / "converted")
    reference = load_file(original / "reference.safetensors")  # the fixture's batch, tokenized alike for v1
    batch = {name: reference[name] for name in ("input_ids", "attention_mask")}
    with torch.no_grad():
        expected = model(**batch, output_hidden_states=True)
    return {"original": source, "report": report, "batch": batch, "expected": expected}
