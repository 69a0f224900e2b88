"""Each score against an independent computation from the model's own outputs, and the properties that must hold:
ref == alt gives 0, no dependence on batch company or attention backend, reverse-complement averaging equals
scoring the reverse-complemented genome, and the forward passes each score costs; the `head` score of fine-tuned models
against `predict` on the two windows."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from multimolecule import api
from multimolecule.models import from_pretrained
from multimolecule.seqio import revcomp
from multimolecule.variants import Site

from ..helpers import (
    encoder_states,
    example_genome,
    independent_llr,
    independent_pll,
    reverse_genome,
    scorer,
    write_fasta,
    write_tsv,
)

MODELS = ["nt-demo", "dnabert2-demo"]
GENOME = example_genome()
TEXT = GENOME["chrC"][100:148]  # 48 bp of E. coli DNA: a whole window for the scores below


def snv(text: str, position: int, alt: str) -> Site:
    return Site(text, position, text[position], alt)


@pytest.mark.parametrize("model", MODELS)
def test_llr_is_the_masked_base_marginal(model):
    """All three alternatives of each position, at token starts, middles and ends, from one masked pass each."""
    positions = [0, 7, 20, 23, 47]
    sites = [snv(TEXT, p, b) for p in positions for b in "ACGT" if b != TEXT[p]]
    chosen = scorer(model, ["llr"])
    results = chosen(sites)
    for site, result in zip(sites, results):
        assert result["llr"] == pytest.approx(independent_llr(model, TEXT, site.start, site.alt), abs=1e-5)
    _, tokenizer = api.load_model(model)
    starts, tokens = token_starts(tokenizer, TEXT)
    covering = {next(i for i, (s, t) in enumerate(zip(starts, tokens)) if s <= p < s + len(t)) for p in positions}
    assert chosen.passes == len(covering)  # one masked pass per token, shared by every SNV inside it


@pytest.mark.parametrize("model", MODELS)
def test_llr_of_an_mnv_sums_its_bases_from_one_pass(model):
    site = Site(TEXT, 20, TEXT[20:22], "".join("A" if b != "A" else "C" for b in TEXT[20:22]))
    chosen = scorer(model, ["llr"])
    (result,) = chosen([site])
    _, tokenizer = api.load_model(model)
    if model == "nt-demo":  # both bases inside one 6-mer (18..23): the product of the two marginals of one pass
        expected = sum(independent_llr(model, TEXT, 20 + k, site.alt[k]) for k in range(2))
        assert result["llr"] == pytest.approx(expected, abs=1e-5)
    assert chosen.passes == 1 and math.isfinite(result["llr"])


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(("start", "ref", "alt"), [(21, "T", "G"), (20, "GA", "TC"), (30, "", "AT"), (12, "CAG", "")])
def test_pll_is_the_difference_over_differing_tokens(model, start, ref, alt):
    text = TEXT[:start] + ref + TEXT[start + len(ref) :] if ref else TEXT
    ref = text[start : start + len(ref)]
    site = Site(text, start, ref, alt if alt or ref else "A")
    chosen = scorer(model, ["pll", "llr"])
    (result,) = chosen([site])
    assert result["pll"] == pytest.approx(independent_pll(model, site.text, site.alt_text), abs=1e-4)
    if len(site.ref) != len(site.alt):
        assert math.isnan(result["llr"])  # an indel has no base-to-base pairing: llr is NaN, documented


@pytest.mark.parametrize("model", MODELS)
def test_embedding_distances_from_the_encoder(model):
    site = snv(TEXT, 25, "A" if TEXT[25] != "A" else "G")
    (result,) = scorer(model, ["cosine", "l2", "dot"])([site])
    ref, alt = encoder_states(model, site.text), encoder_states(model, site.alt_text)
    a, b = ref.mean(0), alt.mean(0)
    assert result["cosine"] == pytest.approx(1 - float(torch.nn.functional.cosine_similarity(a, b, dim=0)), abs=1e-6)
    assert result["l2"] == pytest.approx(float(torch.dist(a, b)), rel=1e-5)
    assert result["dot"] == pytest.approx(float(a @ b), rel=1e-5)
    _, tokenizer = api.load_model(model)
    # at the variant: the token(s) over base 25 in each allele
    spans = [(s, s + len(t)) for s, t in zip(*token_starts(tokenizer, site.text))]
    inside = [i for i, (s, e) in enumerate(spans) if s <= 25 < e]
    alt_spans = [(s, s + len(t)) for s, t in zip(*token_starts(tokenizer, site.alt_text))]
    alt_inside = [i for i, (s, e) in enumerate(alt_spans) if s <= 25 < e]
    a, b = ref[inside].mean(0), alt[alt_inside].mean(0)
    assert result["l2_variant"] == pytest.approx(float(torch.dist(a, b)), rel=1e-5)


def token_starts(tokenizer, text):
    tokens = tokenizer.convert_ids_to_tokens(tokenizer(text, add_special_tokens=False)["input_ids"])
    starts = [sum(len(t) for t in tokens[:i]) for i in range(len(tokens))]
    return starts, tokens


@pytest.mark.parametrize("model", MODELS)
def test_the_same_allele_scores_zero(model):
    sites = [Site(TEXT, 10, TEXT[10], TEXT[10]), Site(TEXT, 10, TEXT[10:13], TEXT[10:13])]
    for result in scorer(model, ["llr", "pll", "cosine", "l2"])(sites):
        assert {key: value for key, value in result.items()} == dict.fromkeys(result, 0.0)


@pytest.mark.parametrize("model", MODELS)
def test_no_dependence_on_batch_company_or_attention_backend(model):
    sites = [snv(GENOME["chrC"][i : i + 40 + 7 * i % 30], 15, "A") for i in range(0, 70, 7)]
    sites = [site for site in sites if site.ref != "A"]
    scores = ["llr", "pll", "cosine", "dot"]
    alone = [scorer(model, scores)([site])[0] for site in sites]
    together = scorer(model, scores, max_tokens=200)(sites)
    eager = scorer(model, scores, network=from_pretrained(model, task="fill-mask", attn_implementation="eager"))
    for by_eager, by_itself, in_company in zip(eager(sites), alone, together):
        for column, value in by_itself.items():
            assert in_company[column] == pytest.approx(value, rel=1e-4, abs=1e-4)
            assert by_eager[column] == pytest.approx(value, rel=1e-4, abs=1e-4)


@pytest.mark.parametrize("model", MODELS)
def test_reverse_complement_average_equals_scoring_the_reversed_genome(model, tmp_path):
    """SNVs and an MNV in the middle of a contig and near both of its ends (where the window is clipped)."""
    genome = {name: GENOME[name] for name in ("chrA", "chrB")}
    rows = [("chrA", 3, genome["chrA"][2], "T"), ("chrB", 200, genome["chrB"][199], "C")]
    rows += [("chrB", 398, genome["chrB"][397:399], "GA"), ("chrA", 75, genome["chrA"][74], "G")]
    rows = [row for row in rows if row[2] != row[3]]
    mirrored = [(c, len(genome[c]) - p - len(r) + 2, revcomp(r), revcomp(a)) for c, p, r, a in rows]
    forward = api.score_variants(
        write_tsv(tmp_path / "f.tsv", rows),
        write_fasta(tmp_path / "f.fa", genome),
        model=model,
        score=["llr", "pll", "cosine", "l2"],
        window=60,
        reverse_complement=True,
    )
    backward = api.score_variants(
        write_tsv(tmp_path / "r.tsv", mirrored),
        write_fasta(tmp_path / "r.fa", reverse_genome(genome)),
        model=model,
        score=["llr", "pll", "cosine", "l2"],
        window=60,
        reverse_complement=True,
    )
    assert forward.statuses == backward.statuses == ["ok"] * len(rows)
    for a, b in zip(forward.scores, backward.scores):
        assert a == pytest.approx(b, rel=1e-5, abs=1e-6)
    one_strand = api.score_variants(tmp_path / "f.tsv", tmp_path / "f.fa", model=model, score=["llr"], window=60)
    assert [row["llr"] for row in one_strand.scores] != pytest.approx([row["llr"] for row in forward.scores])


@pytest.mark.parametrize(
    ("scores", "per_variant"),
    [(["llr"], 1), (["pll"], 1), (["llr", "pll"], 1), (["cosine", "l2", "dot"], 2), (["llr", "cosine"], 3)],
)
def test_forward_passes_per_snv(scores, per_variant):
    """NT 6-mers: an SNV changes one token, and with it masked both alleles' rows are the same row: pll costs one
    pass (the same as llr's); the distances 2 (one per allele, shared by all three)."""
    texts = [GENOME["chrD"][start : start + 48] for start in (0, 100, 200, 300)]
    sites = [snv(text, 20, "A") for text in texts if text[20] != "A"]  # in windows of their own
    chosen = scorer("nt-demo", scores)
    chosen(sites)
    assert chosen.passes == per_variant * len(sites)


def test_variants_that_share_a_window_share_its_reference_pass():
    sites = [snv(TEXT, 20, b) for b in "ACGT" if b != TEXT[20]]
    chosen = scorer("nt-demo", ["cosine"])
    chosen(sites)
    assert chosen.passes == 1 + len(sites)  # one reference pass, one per alternative


# ---------------------------------------------------------------------------- the head of a fine-tuned model


@pytest.fixture(scope="module")
def fine_tuned(tmp_path_factory):
    """The DNABERT-2 demo fine-tuned for a few steps: sequence level and per base."""
    folder = tmp_path_factory.mktemp("fine_tuned")
    models = {}
    for level, per_base in (("sequence", False), ("token", True)):
        data = gc_task(folder / f"data-{level}", per_base)
        api.train(data, folder / level, max_steps=2, eval_steps=2, progress=False, device="cpu")
        models[level] = folder / level
    return models


def gc_task(folder: Path, per_base: bool) -> Path:
    """Windows of E. coli DNA labelled by GC content over a half (or, per base, whether each base is G or C)."""
    sequence = GENOME["chrD"]
    folder.mkdir(parents=True)
    for split, count, offset in (("train", 32, 0), ("dev", 8, 2000), ("test", 8, 2500)):
        rows = ["sequence,label"]
        for i in range(count):
            window = sequence[offset + 31 * i : offset + 31 * i + 40 + i % 40]
            gc = sum(base in "GC" for base in window) / len(window)
            label = "".join("1" if base in "GC" else "0" for base in window) if per_base else str(int(gc > 0.5))
            rows.append(f"{window},{label}")
        (folder / f"{split}.csv").write_text("\n".join(rows) + "\n")
    return folder


def test_head_scores_equal_predict_on_the_two_windows(fine_tuned, tmp_path):
    """alt - ref of the fine-tuned model's probabilities, as `predict` gives them for the two windows' sequences."""
    text = GENOME["chrC"][200:260]
    position = 30
    alt = "A" if text[position] != "A" else "G"
    result = api.mutagenesis(f"{text}:{position + 1}-{position + 1}", model=fine_tuned["sequence"], score="head")
    row = next(row for v, row in zip(result.variants, result.scores) if v.alt == alt)
    ref_prediction, alt_prediction = api.predict(
        [text, text[:position] + alt + text[position + 1 :]], fine_tuned["sequence"]
    )
    for name in ("0", "1"):
        expected = alt_prediction[f"probability_{name}"] - ref_prediction[f"probability_{name}"]
        assert row[f"head_probability_{name}"] == pytest.approx(expected, abs=1e-5)
    assert not math.isnan(row["head_logit_1"])
    with pytest.raises(api.InputError, match="need a masked language model"):
        api.mutagenesis(f"{text}:5-5", model=fine_tuned["sequence"], score="llr")


def test_per_base_head_at_the_changed_base(fine_tuned):
    text = GENOME["chrC"][300:360]
    position = 17
    alt = "C" if text[position] != "C" else "T"
    result = api.mutagenesis(f"{text}:{position + 1}-{position + 1}", model=fine_tuned["token"], score="head")
    row = next(row for v, row in zip(result.variants, result.scores) if v.alt == alt)
    ref_prediction, alt_prediction = api.predict(
        [text, text[:position] + alt + text[position + 1 :]], fine_tuned["token"]
    )
    for k, name in enumerate(("0", "1")):
        expected = alt_prediction["probabilities"][position][k] - ref_prediction["probabilities"][position][k]
        assert row[f"head_probability_{name}"] == pytest.approx(expected, abs=2e-4)  # predict rounds to 4 places
