"""The DNABERT-2 configuration: its defaults are DNABERT-2-117M, its positions always ALiBi."""

from __future__ import annotations

import pytest

from multimolecule import DnaBert2Config, DnaBert2ForPreTraining


def test_config_defaults_are_117m():
    model = DnaBert2ForPreTraining(DnaBert2Config())
    assert model.num_parameters() == 117_074_176  # the original, tied decoder counted once
    assert DnaBert2Config().position_embedding_type == "alibi"


def test_other_positions_are_refused_in_one_line():
    with pytest.raises(ValueError) as error:
        DnaBert2Config(position_embedding_type="rotary")
    assert str(error.value) == "DNABERT-2 uses ALiBi positions, got position_embedding_type='rotary'"
