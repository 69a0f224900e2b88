"""The NTv3 configuration: its defaults are the published 8M model."""

from __future__ import annotations

import torch

from multimolecule import NucleotideTransformerV3Config, NucleotideTransformerV3ForMaskedLM


def test_the_8m_configuration_has_the_published_parameter_count():
    with torch.device("meta"):
        model = NucleotideTransformerV3ForMaskedLM(NucleotideTransformerV3Config())
    assert model.num_parameters() == 7_692_475  # the count the ntv3_base_model card states
