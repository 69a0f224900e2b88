"""`predict_tracks` (multimolecule.variants.tracks) with the post-trained NTv3 fixture: the tracks of a region are
the model's own outputs for the windows that cover it (the command: cli/test_predict_tracks.py)."""

from __future__ import annotations

import torch

from multimolecule import NucleotideTransformerV3ForTrackPrediction, NucleotideTransformerV3Tokenizer
from multimolecule.api import predict_tracks

from ..helpers import fixture_dir, random_dna


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
