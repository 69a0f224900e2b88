"""The settings table of `multimolecule pretrain` (`pretraining/settings.py`): one setting per name, each default of
its type (the options made of it: cli/test_pretrain.py; `PretrainConfig`'s defaults: test_config.py)."""

from __future__ import annotations

from multimolecule.pretraining.settings import SETTINGS


def test_each_setting_once_with_a_default_of_its_type():
    names = [name for section in SETTINGS.values() for name in section]
    assert len(names) == len(set(names))  # a name in two sections would be one setting
    for section in SETTINGS.values():
        for name, setting in section.items():
            assert setting.default is None or type(setting.default) is setting.type, name
            assert setting.help and not setting.help.endswith("."), name
