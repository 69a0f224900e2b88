"""Pretraining's run settings (`pretraining/config.py`): what `check_settings` refuses, in one line naming the
setting and the value, before any data is read (reading a settings file: training/test_config.py)."""

from __future__ import annotations

import re

import pytest

from multimolecule.pretraining.config import PretrainConfig, check_settings, resolve_pretrain_config
from multimolecule.pretraining.settings import SETTINGS
from multimolecule.utils import InputError, OptionError

GIVEN = {"data": "genome.fa", "model": "nt-demo", "output_dir": "out"}


def test_the_defaults_are_the_tables_and_pass_with_the_three_required():
    defaults = {name: setting.default for section in SETTINGS.values() for name, setting in section.items()}
    assert PretrainConfig().dict() == defaults
    check_settings(resolve_pretrain_config(None, GIVEN))
    check_settings(resolve_pretrain_config(None, {**GIVEN, "model": None, "config": "dnabert2"}))  # from scratch


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"data": None}, "give the genomes to train on (--data FASTA files or folders)"),
        ({"output_dir": ""}, "give an output directory (--output-dir)"),
        ({"model": None}, "give either --model (continued pretraining) or --architecture (from scratch), not both"),
        ({"eval_fraction": 1.0}, "eval_fraction must be at least 0 and below 1, got 1.0"),
        ({"eval_fraction": -0.1}, "eval_fraction must be at least 0 and below 1, got -0.1"),
        ({"mask_probability": True}, "mask_probability must be between 0 and 1 (exclusive), got True"),
        ({"mask_probability": "0.2"}, "mask_probability must be between 0 and 1 (exclusive), got '0.2'"),
        ({"hidden_size": 0}, "hidden_size must be an integer of at least 1, got 0"),
        ({"eval_windows": 2.5}, "eval_windows must be an integer of at least 1, got 2.5"),
        ({"threads": -1}, "threads must be an integer of at least 0, got -1"),
        ({"dtype": "fp8"}, "dtype"),
        ({"device": "gpu"}, "device"),
    ],
)
def test_a_bad_setting_is_one_error(settings, message):
    config = resolve_pretrain_config(None, GIVEN)
    config.merge(settings)
    with pytest.raises(InputError, match=re.escape(message)) as raised:
        check_settings(config)
    assert not isinstance(raised.value, OptionError) or raised.value.option == next(iter(settings))
