"""`fill_mask` against a direct computation: the masked-LM model's probabilities at the mask among the vocabulary's
DNA tokens, the first base's probability summed over them, other masks filled with their best token, and a long
sequence cut to the window of the trained length centred on the mask."""

from __future__ import annotations

import pytest
import torch

from multimolecule import NucleotideTransformerTokenizer, NucleotideTransformerV3ForMaskedLM, api
from multimolecule.fill_mask import CONTEXT, context, dna_token_ids, fill_mask
from multimolecule.seqio import DNA, MASK

from .helpers import DEMOS, MASKED, fixture_dir, random_dna


@torch.no_grad()
def mask_probabilities(model: str, text: str) -> tuple[list[str], torch.Tensor]:
    """(DNA token texts, (masks, DNA tokens) probabilities) of the whole `text` in one forward pass."""
    network, tokenizer = api.load_model(model)
    encoded = tokenizer(text, return_tensors="pt")
    logits = network(**encoded).logits[0]
    masks = (encoded["input_ids"][0] == tokenizer.mask_token_id).nonzero()[:, 0]
    dna = [(i, t) for t, i in tokenizer.get_vocab().items() if t and set(t) <= set(DNA)]
    ids = [i for i, _ in sorted(dna)]
    return tokenizer.convert_ids_to_tokens(ids), logits[masks][:, ids].float().softmax(-1)


def test_dna_tokens_are_the_acgt_tokens_of_the_vocabulary():
    tokenizer = NucleotideTransformerTokenizer.standard()
    ids, texts = dna_token_ids(tokenizer)
    assert len(ids) == 4**6 + 4  # every 6-mer and the four single bases; N, <unk> and the special tokens left out
    assert ids == sorted(ids) and texts == tokenizer.convert_ids_to_tokens(ids)
    assert set(texts) == {t for t in tokenizer.get_vocab() if t and set(t) <= set("ACGT")}


@pytest.mark.parametrize("model", DEMOS)
def test_predictions_are_the_models_probabilities_among_dna_tokens(model):
    (result,) = fill_mask(MASKED, model=model, top_k=4)
    (entry,) = result
    texts, probabilities = mask_probabilities(model, MASKED)
    expected = probabilities[0]
    scores, order = expected.topk(4)
    assert [p["token"] for p in entry["predictions"]] == [texts[i] for i in order]
    assert [p["score"] for p in entry["predictions"]] == pytest.approx(scores.tolist(), abs=1e-5)
    first_base = {base: float(sum(p for t, p in zip(texts, expected) if t[0] == base)) for base in DNA}
    assert entry["base_probabilities"] == pytest.approx(first_base, abs=1e-5)
    prefix, suffix = MASKED.split(MASK)
    assert [p["sequence"] for p in entry["predictions"]] == [prefix + texts[i] + suffix for i in order]


def test_other_masks_are_filled_with_their_best_token():
    text = random_dna(40, 1) + MASK + random_dna(30, 2) + MASK + random_dna(40, 3)
    (masks,) = fill_mask(text, model="nt-demo", top_k=2)
    texts, probabilities = mask_probabilities("nt-demo", text)
    best = [texts[int(row.argmax())] for row in probabilities]
    parts = text.split(MASK)
    assert [entry["mask"] for entry in masks] == [0, 1]
    for prediction in masks[0]["predictions"]:
        assert prediction["sequence"] == parts[0] + prediction["token"] + parts[1] + best[1] + parts[2]
    for prediction in masks[1]["predictions"]:
        assert prediction["sequence"] == parts[0] + best[0] + parts[1] + prediction["token"] + parts[2]


def test_a_long_sequence_is_cut_to_the_trained_length_around_the_mask():
    """nt-demo reads 128 tokens: `<cls>` and 127 six-mers, so the mask sees 63 six-mers either side of it."""
    left, right = random_dna(6 * 300, 4), random_dna(6 * 200, 5)
    (long,) = fill_mask(left + MASK + right, model="nt-demo", top_k=5)
    (cut,) = fill_mask(left[-6 * 63 :] + MASK + right[: 6 * 63], model="nt-demo", top_k=5)
    assert [p["token"] for p in long[0]["predictions"]] == [p["token"] for p in cut[0]["predictions"]]
    assert [p["score"] for p in long[0]["predictions"]] == pytest.approx([p["score"] for p in cut[0]["predictions"]])
    (shifted,) = fill_mask(left[-6 * 62 :] + MASK + right[: 6 * 63], model="nt-demo", top_k=5)
    assert [p["score"] for p in shifted[0]["predictions"]] != pytest.approx([p["score"] for p in cut[0]["predictions"]])
    assert long[0]["context"] == "..." + left[-CONTEXT:] + MASK + right[:CONTEXT] + "..."


def test_context_cuts_past_the_limit_only():
    assert context("A" * CONTEXT, "<mask>", "C" * CONTEXT) == "A" * CONTEXT + "<mask>" + "C" * CONTEXT
    assert context("G" + "A" * CONTEXT, "x", "C" * CONTEXT + "T") == "..." + "A" * CONTEXT + "x" + "C" * CONTEXT + "..."
    assert context("", "x", "") == "x"


def test_species_conditions_a_post_trained_model():
    """`species` fills masks with a post-trained NTv3 as its masked-LM head called with that species' id (the
    fixture's references have no masked input to compare with)."""
    post = fixture_dir("ntv3", "ntv3_post_tiny_a")
    sequence = random_dna(70, 21)
    masked = sequence[:30] + MASK + sequence[31:]
    model = NucleotideTransformerV3ForMaskedLM.from_pretrained(post).eval()
    ids = torch.tensor([[{"A": 6, "T": 7, "C": 8, "G": 9}[base] for base in sequence]])
    ids[0, 30] = 2  # <mask>
    scores = {}
    for species, species_id in (("human", 6), ("mouse", 7)):
        ((entry,),) = fill_mask(masked, model=str(post), species=species, top_k=4)
        with torch.no_grad():
            logits = model(ids, species_ids=species_id).logits[0, 30, [6, 7, 8, 9]]  # A T C G
        expected = dict(zip("ATCG", logits.softmax(-1).tolist()))
        scores[species] = {prediction["token"]: prediction["score"] for prediction in entry["predictions"]}
        assert scores[species] == pytest.approx(expected, abs=1e-6)
    assert scores["human"] != pytest.approx(scores["mouse"], abs=1e-3)  # the species changes the numbers
