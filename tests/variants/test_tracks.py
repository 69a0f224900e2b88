"""`predict-tracks` (multimolecule.variants.tracks) with the post-trained NTv3 fixture: the tracks of a region are
the model's own outputs for the windows that cover it, and bad requests are one line."""

from __future__ import annotations

import torch

from multimolecule import NucleotideTransformerV3ForTrackPrediction, NucleotideTransformerV3Tokenizer
from multimolecule.api import predict_tracks

from ..helpers import cli_error, fixture_dir, random_dna, run_cli


def test_region_tracks_are_the_models_centre_outputs(tmp_path):
    post = fixture_dir("ntv3", "ntv3_post_tiny_a")
    sequence = random_dna(200, 5)
    result = predict_tracks(f"{sequence}:21-68", model=str(post), species="human", tracks=["ENCSR056HPM"], window=64)
    assert result.positions == list(range(21, 69)) and result.names == ["ENCSR056HPM"]
    model = NucleotideTransformerV3ForTrackPrediction.from_pretrained(post).eval()
    tokenizer = NucleotideTransformerV3Tokenizer.standard()
    with torch.no_grad():  # windows of 64 keep their central 24 bases, from base 21: windows at 0 and 24
        ids = tokenizer([sequence[0:64], sequence[24:88]], return_tensors="pt")["input_ids"]
        expected = model(ids, species_ids=6).tracks[..., 2].flatten()
    assert (result.values[:, 0] - expected).abs().max() < 1e-5


def test_command_writes_a_table_and_refuses_in_one_line(capsys, tmp_path):
    post = fixture_dir("ntv3", "ntv3_post_tiny_a")
    fasta = tmp_path / "ref.fa"
    fasta.write_text(f">chr1\n{random_dna(300, 6)}\n")
    code, out, _ = run_cli(
        capsys, "predict-tracks", f"{fasta}:1-30", "-m", post, "--species", "mouse", "-o", tmp_path / "t.tsv"
    )
    assert code == 0 and "30 bases x 2 mouse tracks" in out
    lines = (tmp_path / "t.tsv").read_text().splitlines()
    assert lines[0] == "record\tposition\tENCSR000CCL\tENCSR000CNA" and len(lines) == 31
    assert "unknown species 'dog'" in cli_error(
        capsys, "predict-tracks", f"{fasta}:1-30", "-m", post, "--species", "dog", "-o", tmp_path / "u.tsv"
    )
    pre = fixture_dir("ntv3", "ntv3_tiny_a")
    assert "track" in cli_error(
        capsys, "predict-tracks", f"{fasta}:1-30", "-m", pre, "--species", "human", "-o", tmp_path / "v.tsv"
    )
