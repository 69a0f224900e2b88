"""The settings table of `multimolecule train` (`training/settings.py`): one setting per name, each default of its
type, and the defaults a valid run."""

from __future__ import annotations

from multimolecule.training.config import TrainConfig, check_settings
from multimolecule.training.settings import SETTINGS


def test_each_setting_once_with_a_default_of_its_type():
    names = [name for section in SETTINGS.values() for name in section]
    assert len(names) == len(set(names))  # a name in two sections would be one setting
    for section in SETTINGS.values():
        for name, setting in section.items():
            assert setting.default is None or type(setting.default) is setting.type, name
            assert setting.help and not setting.help.endswith("."), name


def test_the_defaults_are_a_valid_run():
    config = TrainConfig()
    assert config.dict() == {
        name: setting.default for section in SETTINGS.values() for name, setting in section.items()
    }
    check_settings(config)
