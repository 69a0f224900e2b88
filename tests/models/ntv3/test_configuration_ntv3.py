"""The NTv3 configuration: its defaults are the published 8M model; the widths of the towers, its checks, and a
post-trained configuration's species and tracks through `save_pretrained` and `from_pretrained`."""

from __future__ import annotations

import pytest
import torch

from multimolecule import NucleotideTransformerV3Config, NucleotideTransformerV3ForMaskedLM

SMALL = {"hidden_size": 16, "embed_dim": 32, "num_attention_heads": 4, "head_dim": 8, "num_downsamples": 2}


def test_the_8m_configuration_has_the_published_parameter_count():
    with torch.device("meta"):
        model = NucleotideTransformerV3ForMaskedLM(NucleotideTransformerV3Config())
    assert model.num_parameters() == 7_692_475  # the count the ntv3_base_model card states


def test_the_650m_sized_configuration_has_the_reported_parameter_count():
    """The 650M model's published dimensions (1,536 wide at every level, 12 layers of 24 heads, a 6,144-wide
    feed-forward, 7 levels) give the 651.83M parameters reported for the original code built at that size."""
    dimensions = dict(hidden_size=1536, embed_dim=1536, num_hidden_layers=12, num_attention_heads=24, head_dim=64)
    config = NucleotideTransformerV3Config(intermediate_size=6144, **dimensions)
    with torch.device("meta"):
        model = NucleotideTransformerV3ForMaskedLM(config)
    assert round(model.num_parameters() / 1e4) == 65_183


@pytest.mark.parametrize(
    "hidden_size, embed_dim, num_downsamples, channels",
    [(10, 21, 3, [10, 13, 17, 21]), (256, 256, 7, [256] * 8), (16, 40, 0, [16])],
)
def test_tower_widths_ramp_linearly_and_truncate(hidden_size, embed_dim, num_downsamples, channels):
    sizes = {"hidden_size": hidden_size, "embed_dim": embed_dim, "num_attention_heads": 1, "head_dim": embed_dim}
    config = NucleotideTransformerV3Config(**sizes, num_downsamples=num_downsamples)
    assert config.channels == channels and config.block_size == 2**num_downsamples


@pytest.mark.parametrize(
    "change, message",
    [
        ({"head_dim": 6}, "num_attention_heads × head_dim (4 × 6) must equal embed_dim (32)"),
        ({"num_downsamples": -1}, "num_downsamples must be at least 0, got -1"),
        ({"species": ["human"]}, "a post-trained model needs hidden_size == embed_dim (its heads read both widths)"),
        ({"keep_target_center_fraction": 0}, "keep_target_center_fraction must be in (0, 1], got 0"),
        ({"keep_target_center_fraction": 1.5}, "keep_target_center_fraction must be in (0, 1], got 1.5"),
    ],
)
def test_inconsistent_settings_are_one_line(change, message):
    with pytest.raises(ValueError) as error:
        NucleotideTransformerV3Config(**{**SMALL, **change})
    assert str(error.value) == message


def test_species_and_tracks_survive_a_round_trip(tmp_path):
    config = NucleotideTransformerV3Config(
        **{**SMALL, "hidden_size": 32},
        species=["human", "mouse"],
        bigwig_tracks={"human": ["dnase", "cage"], "mouse": ["atac"]},
        bed_elements=["exon", "promoter"],
        keep_target_center_fraction=0.5,
    )
    assert config.num_species == 2 and config.token_bases == ["N", "", "N", "", "", "", "A", "T", "C", "G", "N"]
    config.save_pretrained(tmp_path)
    loaded = NucleotideTransformerV3Config.from_pretrained(tmp_path)
    assert loaded.to_dict() == config.to_dict()
    assert loaded.bigwig_tracks["mouse"] == ["atac"] and loaded.channels == config.channels
