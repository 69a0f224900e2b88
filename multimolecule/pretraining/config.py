"""Run settings for pretraining, as a `chanfig` config: defaults (`SETTINGS`), then a YAML/JSON file, then keyword
overrides; checked once, by `check_settings`, before any data is read."""

from __future__ import annotations

import copy
import os

import chanfig

from ..training.config import resolve_config
from ..utils import InputError, OptionError, check_above_zero, check_device, check_dtype, check_positive
from .settings import SETTINGS


class PretrainConfig(chanfig.Config):
    """Every setting of `multimolecule pretrain`, with its default (`SETTINGS`).

    Example:
        >>> config = PretrainConfig()
        >>> config.mask_probability, config.max_steps, config.eval_fraction
        (0.15, 10000, 0.05)
        >>> settings = {"data": "genome.fa", "model": "nt-demo", "output_dir": "out", "max_steps": 5}
        >>> resolve_pretrain_config(None, settings).max_steps
        5
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for section in SETTINGS.values():
            for name, setting in section.items():
                setattr(self, name, copy.copy(setting.default))


def resolve_pretrain_config(config_file: str | os.PathLike | None = None, overrides: dict | None = None):
    """Defaults, then `config_file` (YAML or JSON), then the `overrides` that are not None; unknown keys are an
    error. `data` may be a list of files or folders; a resumed run reads its saved `pretrain_config.yaml`."""
    overrides = dict(overrides or {})
    if isinstance(overrides.get("data"), (list, tuple)):
        overrides["data"] = ",".join(str(item) for item in overrides["data"])
    return resolve_config(config_file, overrides, PretrainConfig, saved="pretrain_config.yaml")


POSITIVE = ("max_steps", "batch_size", "gradient_accumulation_steps", "eval_windows", "save_total_limit")
POSITIVE += ("max_length", "max_tokens", "eval_steps", "logging_steps")
POSITIVE += ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")
NOT_NEGATIVE = ("threads", "num_workers")


def check_settings(config: PretrainConfig) -> None:
    """Every setting checked once, before any data is read: one-line errors naming the setting and the value.

    Example:
        >>> check_settings(resolve_pretrain_config(None, {"data": "g.fa", "model": "nt-demo", "output_dir": "o",
        ...                                               "batch_size": 0}))
        Traceback (most recent call last):
        ...
        multimolecule.utils.errors.OptionError: batch_size must be an integer of at least 1, got 0
    """
    if not config.data:
        raise InputError("give the genomes to train on (--data FASTA files or folders)")
    if not config.output_dir:
        raise InputError("give an output directory (--output-dir)")
    if bool(config.model) == bool(config.config):
        raise InputError("give either --model (continued pretraining) or --architecture (from scratch), not both")
    for name in POSITIVE:
        check_positive(name, config[name])
    for name in NOT_NEGATIVE:
        check_positive(name, config[name], allow_zero=True)
    check_above_zero("learning_rate", config.learning_rate)
    if not is_number(config.mask_probability) or not 0 < config.mask_probability < 1:
        message = f"mask_probability must be between 0 and 1 (exclusive), got {config.mask_probability!r}"
        raise OptionError(message, "mask_probability")
    if not is_number(config.eval_fraction) or not 0 <= config.eval_fraction < 1:
        message = f"eval_fraction must be at least 0 and below 1, got {config.eval_fraction!r}"
        raise OptionError(message, "eval_fraction")
    if config.dtype != "auto":
        check_dtype("dtype", config.dtype)
    check_device("device", config.device)


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
