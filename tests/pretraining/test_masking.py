"""The model cards' masking of DNA tokens, the collator that applies it to training windows, and the held-out
windows masked once."""

from __future__ import annotations

import torch

from multimolecule import NucleotideTransformerTokenizer
from multimolecule.pretraining import DataCollatorForMaskedDNA, MaskedWindows, dna_token_ids, mask_tokens


def test_masking_follows_the_model_cards():
    """15% of the DNA tokens chosen; of those 80% <mask>, 10% a different DNA token, 10% unchanged."""
    tokenizer = NucleotideTransformerTokenizer.standard()
    candidates = dna_token_ids(tokenizer)
    generator = torch.Generator().manual_seed(0)
    ids = candidates[torch.randint(len(candidates), (400, 250), generator=generator)]
    ids[:, 0] = tokenizer.cls_token_id
    ids[:, -10:] = tokenizer.pad_token_id
    inputs, labels = mask_tokens(ids, candidates, tokenizer.mask_token_id, 0.15, generator)
    chosen = labels != -100
    dna = 400 * 239
    assert not chosen[:, 0].any() and not chosen[:, -10:].any()
    assert torch.equal(labels[chosen], ids[chosen]) and torch.equal(inputs[~chosen], ids[~chosen])
    n = int(chosen.sum())
    assert abs(n / dna - 0.15) < 4 * (0.15 * 0.85 / dna) ** 0.5
    masked = inputs[chosen] == tokenizer.mask_token_id
    kept = inputs[chosen] == ids[chosen]
    replaced = ~masked & ~kept
    for share, expected in ((masked, 0.8), (replaced, 0.1), (kept, 0.1)):
        assert abs(float(share.float().mean()) - expected) < 4 * (expected * (1 - expected) / n) ** 0.5
    assert torch.isin(inputs[chosen][replaced], candidates).all()


def test_collator_masks_training_windows_and_keeps_held_out_masks():
    tokenizer = NucleotideTransformerTokenizer.standard()
    windows = [{"input_ids": tokenizer("ACGTAC" * n)["input_ids"]} for n in (30, 20)]
    collator = DataCollatorForMaskedDNA(tokenizer)
    batch = collator(windows)
    assert batch["input_ids"].shape == batch["labels"].shape == (2, 31)
    assert (batch["labels"][1, 21:] == -100).all() and (batch["attention_mask"][1, 21:] == 0).all()
    held = list(MaskedWindows(windows, tokenizer, 0.5, seed=1))
    assert held == list(MaskedWindows(windows, tokenizer, 0.5, seed=1))  # the same positions every evaluation
    chosen = torch.tensor(held[0]["labels"]) != -100
    assert (torch.tensor(held[0]["input_ids"])[chosen] == tokenizer.mask_token_id).all()  # all <mask> to score
    again = collator(held)
    assert again["labels"][0].tolist() == held[0]["labels"]
