"""The DNABERT-2 configuration: its defaults are DNABERT-2-117M."""

from __future__ import annotations

from multimolecule import DnaBert2Config, DnaBert2ForPreTraining


def test_config_defaults_are_117m():
    model = DnaBert2ForPreTraining(DnaBert2Config())
    assert model.num_parameters() == 117_074_176  # the original, tied decoder counted once
    assert DnaBert2Config().position_embedding_type == "alibi"
