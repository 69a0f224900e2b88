"""The `tracks` score (multimolecule.variants.track_scores) with the post-trained NTv3 fixture: each delta is the
model's own tracks of the alternative window minus the reference's, at the bases paired around the change (written
out here by hand), averaged; ref == alt gives exactly zero and swapping the alleles exactly the negative;
`score-variants --score tracks` writes the chosen tracks and the summary, resumes like the other scores, and
refuses bad names and models in one line before any work."""

from __future__ import annotations

import math

import pytest
import torch

from multimolecule import api
from multimolecule.variants import Site, TrackScorer
from multimolecule.variants.track_scores import load_track_model

from ..helpers import cli_error, fixture_dir, random_dna, run_cli, write_fasta, write_tsv

HUMAN = ["ENCSR000AKO", "ENCSR921NMD", "ENCSR056HPM"]  # the fixture's human tracks, in head order
TEXT = random_dna(80, 11)  # a window of 80 bases: the heads predict its bases 25..54
SUMMARY_COLUMNS = ["tracks_mean_delta", "tracks_top_delta", "tracks_top_track"]


@pytest.fixture(scope="module")
def post():
    return fixture_dir("ntv3", "ntv3_post_tiny_a")


@pytest.fixture(scope="module")
def loaded(post):
    return load_track_model(str(post), "cpu", None)


@torch.no_grad()
def window_tracks(network, text: str, species_id: int) -> dict[int, torch.Tensor]:
    """{window base: (human tracks,)} of one window run alone: the original crops `int(0.375 L)` bases from
    `(L - kept) // 2` (../shared/reference/ntv3.md)."""
    ids = torch.tensor([[{"A": 6, "T": 7, "C": 8, "G": 9}[base] for base in text]])  # the original's ids
    tracks = network(ids, species_ids=species_id).tracks[0, :, : len(HUMAN)].double()  # (kept, tracks)
    kept = int(len(text) * 0.375)
    start = (len(text) - kept) // 2
    return {start + i: tracks[i] for i in range(kept)}


def other(base: str) -> str:
    return {"A": "G", "C": "T", "G": "A", "T": "C"}[base]


# (site, radius, the (reference base, alternative base) pairs compared, written out by hand)
CASES = {
    "snv": (Site(TEXT, 40, TEXT[40], other(TEXT[40])), 3, [(b, b) for b in range(37, 44)]),
    "mnv": (Site(TEXT, 40, TEXT[40:42], other(TEXT[40]) + other(TEXT[41])), 2, [(b, b) for b in range(38, 44)]),
    # a deletion of bases 40, 41: the bases after it are 2 earlier in the alternative window (78 bases: 24..52)
    "deletion": (Site(TEXT, 40, TEXT[40:42], ""), 3, [(37, 37), (38, 38), (39, 39), (42, 40), (43, 41), (44, 42)]),
    # an insertion of 2 bases before base 40: the bases after it are 2 later (82 bases: 26..55)
    "insertion": (Site(TEXT, 40, "", "GG"), 3, [(37, 37), (38, 38), (39, 39), (40, 42), (41, 43), (42, 44)]),
    # a radius beyond the predicted centre: only the bases both windows predict
    "clipped": (Site(TEXT, 40, TEXT[40], other(TEXT[40])), 30, [(b, b) for b in range(25, 55)]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_deltas_are_the_two_windows_tracks_subtracted(loaded, case):
    network, tokenizer = loaded
    site, radius, pairs = CASES[case]
    chosen = ["ENCSR056HPM", "ENCSR000AKO"]
    (row,) = TrackScorer(network, tokenizer, "human", chosen, radius=radius)([site])
    ref, alt = window_tracks(network, site.text, 6), window_tracks(network, site.alt_text, 6)
    deltas = torch.stack([alt[a] - ref[r] for r, a in pairs]).mean(0)  # (tracks,)
    assert deltas.abs().max() > 1e-6  # the change moves the tracks: the comparison below has something to check
    for name in chosen:
        assert row[f"track_{name}"] == pytest.approx(float(deltas[HUMAN.index(name)]), abs=1e-6)
    top = int(deltas.abs().argmax())
    assert row["tracks_top_track"] == HUMAN[top]
    assert row["tracks_top_delta"] == pytest.approx(float(deltas[top]), abs=1e-6)
    assert row["tracks_mean_delta"] == pytest.approx(float(deltas.mean()), abs=1e-6)
    assert list(row) == ["track_ENCSR056HPM", "track_ENCSR000AKO", *SUMMARY_COLUMNS]


def test_the_same_allele_gives_zero_and_swapping_the_negative(loaded):
    network, tokenizer = loaded
    scorer = TrackScorer(network, tokenizer, "mouse", ["ENCSR000CNA"], radius=8)
    site = Site(TEXT, 40, TEXT[40], other(TEXT[40]))
    same = Site(TEXT, 40, TEXT[40], TEXT[40])
    swapped = Site(site.alt_text, 40, site.alt, site.ref)
    forward, unchanged, backward = scorer([site, same, swapped])
    assert scorer.passes == 2  # two windows in all: each is run once
    assert forward["tracks_top_delta"] != 0
    assert all(unchanged[column] == 0.0 for column in ["track_ENCSR000CNA", "tracks_mean_delta", "tracks_top_delta"])
    for column in ["track_ENCSR000CNA", "tracks_mean_delta", "tracks_top_delta"]:
        assert backward[column] == -forward[column]
    assert backward["tracks_top_track"] == forward["tracks_top_track"]


def test_an_indel_without_paired_bases_is_nan(loaded):
    network, tokenizer = loaded
    (row,) = TrackScorer(network, tokenizer, "human", radius=0)([Site(TEXT, 40, TEXT[40:42], "")])
    assert math.isnan(row["tracks_mean_delta"]) and math.isnan(row["tracks_top_delta"])
    assert row["tracks_top_track"] == ""


@pytest.fixture(scope="module")
def genome(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tracks")
    sequence = random_dna(400, 12)
    fasta = write_fasta(folder / "ref.fa", {"chr1": sequence})
    rows = [("chr1", 100, sequence[99], other(sequence[99])), ("chr1", 200, sequence[199:202], sequence[199])]
    rows += [("chr1", 300 + i, sequence[299 + i], other(sequence[299 + i])) for i in range(70)]
    return fasta, write_tsv(folder / "variants.tsv", rows), rows


def test_command_writes_the_chosen_tracks_and_the_summary(capsys, post, genome, tmp_path):
    fasta, variants, rows = genome
    output = tmp_path / "scores.tsv"
    code, out, _ = run_cli(
        capsys, "score-variants", variants, "-r", fasta, "-m", post, "-o", output, "--score", "tracks",
        "--species", "mouse", "--tracks", "ENCSR000CNA,ENCSR000CCL", "--window", "64", "--radius", "4", "-q",
    )  # fmt: skip
    assert code == 0 and f"{len(rows)} alleles ({len(rows)} ok)" in out
    header, *lines = [line.split("\t") for line in output.read_text().splitlines()]
    assert header[6:] == ["track_ENCSR000CNA", "track_ENCSR000CCL", *SUMMARY_COLUMNS]
    for line in lines:
        cna, ccl, mean, top, track = float(line[6]), float(line[7]), float(line[8]), float(line[9]), line[10]
        assert mean == pytest.approx((cna + ccl) / 2, rel=2e-5, abs=1e-7)  # the summary is over every mouse track
        assert (top, track) == ((cna, "ENCSR000CNA") if abs(cna) > abs(ccl) else (ccl, "ENCSR000CCL"))
    # the same numbers as the scorer on the variant's window (the engine's windows: `--window` bases around it)
    network, tokenizer = load_track_model(str(post), "cpu", None)
    sequence = fasta.read_text().split("\n", 1)[1].replace("\n", "")
    site = Site(sequence[99 - 31 : 100 + 31], 31, rows[0][2], rows[0][3])
    (expected,) = TrackScorer(network, tokenizer, "mouse", ["ENCSR000CNA"], radius=4)([site])
    assert float(lines[0][6]) == pytest.approx(expected["track_ENCSR000CNA"], rel=2e-5, abs=1e-7)


def test_mutagenesis_scores_every_snv_by_its_tracks(post, genome):
    fasta, _, _ = genome
    result = api.mutagenesis(f"{fasta}:150-151", model=str(post), score="tracks", species="human", window=64, radius=2)
    assert len(result.variants) == 6 and result.columns == SUMMARY_COLUMNS
    assert all(row["tracks_top_track"] in HUMAN and row["tracks_top_delta"] != 0 for row in result.scores)


def test_resume_and_shards_as_for_the_other_scores(post, genome, tmp_path):
    fasta, variants, rows = genome
    options = dict(model=str(post), score="tracks", species="human", window=64, radius=4)
    expected = api.score_variants(variants, fasta, **options)
    output = tmp_path / "out.tsv"
    result = api.score_variants(variants, fasta, output=output, resume=True, **options)  # two shards, kept, merged
    assert [row["tracks_top_delta"] for row in result.scores] == [row["tracks_top_delta"] for row in expected.scores]
    assert [row["tracks_top_track"] for row in result.scores] == [row["tracks_top_track"] for row in expected.scores]
    assert output.read_text().count("\n") == 1 + len(rows) and not (tmp_path / "out.tsv.shards").exists()


@pytest.mark.parametrize(
    "options, message, status",
    [
        (["--species", "dog"], "unknown species 'dog'; the model knows human, mouse", 1),
        (["--species", "human", "--tracks", "NONE"], f"no track NONE for human; it has {', '.join(HUMAN)}", 1),
        ([], "--species must be given: this model is conditioned on one of human, mouse", 2),
        (["--species", "human", "-s", "llr"], "--score tracks is scored on its own", 2),
        (["--species", "human", "--reverse-complement"], "--reverse-complement does not apply to score tracks", 2),
    ],
)
def test_bad_requests_are_one_line_before_any_work(capsys, post, genome, tmp_path, options, message, status):
    fasta, variants, _ = genome
    output = tmp_path / "scores.tsv"
    argv = ["score-variants", variants, "-r", fasta, "-m", post, "-o", output, "-s", "tracks", *options]
    assert message in cli_error(capsys, *argv, status=status)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("model", ["pre", "nt-demo"])
def test_a_model_without_track_heads_is_one_line(capsys, genome, tmp_path, model):
    fasta, variants, _ = genome
    model = str(fixture_dir("ntv3", "ntv3_tiny_a")) if model == "pre" else model
    argv = ["score-variants", variants, "-r", fasta, "-m", model, "-o", tmp_path / "s.tsv", "-s", "tracks"]
    assert f"{model} has no track heads" in cli_error(capsys, *argv, "--species", "human", status=1)
    line = cli_error(capsys, "score-variants", variants, "-r", fasta, "-m", model, "-o", tmp_path / "s.tsv",
                     "--tracks", "ENCSR000AKO")  # fmt: skip
    assert "--tracks names the track columns of score tracks" in line
