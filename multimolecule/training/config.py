"""Run settings for fine-tuning, as a `chanfig` config: defaults, then a YAML/JSON file, then keyword overrides."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import chanfig

from ..utils import InputError, check_above_zero, check_choice, check_device, check_dtype, check_positive
from .settings import SETTINGS


class TrainConfig(chanfig.Config):
    """Every setting of `multimolecule train`, with its default (`SETTINGS`).

    Example:
        >>> config = TrainConfig()
        >>> config.model, config.batch_size, config.lora
        ('dnabert2-demo', 32, False)
        >>> resolve_config(None, {"epochs": 1, "seed": None}).epochs
        1
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for section in SETTINGS.values():
            for name, setting in section.items():
                setattr(self, name, copy.copy(setting.default))


# The pretrained model's default learning rate at the width of BERT-base; narrower models take larger steps.
BASE_LEARNING_RATE, BASE_WIDTH = 1e-4, 768


def width_scaled_learning_rate(hidden_size: int) -> float:
    """The default learning rate of a pretrained model `hidden_size` wide: 1e-4 at 768 (DNABERT-2), scaled by
    768 / `hidden_size`, the inverse-width rule of Adam learning rates across model widths (muP).

    Example:
        >>> width_scaled_learning_rate(768), width_scaled_learning_rate(128), width_scaled_learning_rate(2560)
        (0.0001, 0.0006, 3e-05)
    """
    return round(BASE_LEARNING_RATE * BASE_WIDTH / hidden_size, 8)


def resolve_config(
    config_file: str | os.PathLike | None = None,
    overrides: dict | None = None,
    config_class: type[chanfig.Config] = TrainConfig,
    saved: str = "train_config.yaml",
) -> chanfig.Config:
    """Defaults of `config_class`, then `config_file` (YAML or JSON), then the `overrides` that are not None.

    Unknown keys are an error (a typo must not silently fall back to a default). A run resumed without a
    `config_file` (`resume` and `output_dir` among the overrides) reads the settings it saved, `saved` in its
    output directory, when there is one.
    """
    overrides = overrides or {}
    if config_file is None and overrides.get("resume") and overrides.get("output_dir") is not None:
        candidate = Path(overrides["output_dir"]) / saved
        config_file = candidate if candidate.is_file() else None
    config = config_class()
    known = set(config.keys())
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise InputError(f"config file not found: {config_file}")
        try:
            loaded = chanfig.Config.load(path)
        except Exception as error:  # YAML/JSON syntax errors come in many types
            raise InputError(f"cannot read config file {config_file}: {error}") from error
        loaded = {} if loaded is None else loaded  # an empty file sets nothing
        if not hasattr(loaded, "items"):
            raise InputError(f"config file {config_file} must hold settings (name: value), not {type(loaded).__name__}")
        values = {str(k).replace("-", "_"): v for k, v in dict(loaded).items()}
        check_keys(values, known, str(config_file))
        config.merge(values)
    values = {k.replace("-", "_"): v for k, v in (overrides or {}).items() if v is not None}
    values = {k: str(v) if isinstance(v, os.PathLike) else v for k, v in values.items()}
    check_keys(values, known, "overrides")
    config.merge(values)
    return config


def check_keys(values: dict, known: set, where: str) -> None:
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"unknown setting(s) in {where}: {', '.join(unknown)} (known: {', '.join(sorted(known))})")


POSITIVE = ("batch_size", "eval_batch_size", "gradient_accumulation_steps", "lora_rank", "logging_steps")
POSITIVE += ("eval_steps", "max_length", "save_total_limit")
NOT_NEGATIVE = ("shifts", "threads", "early_stopping_patience", "num_workers")


def check_settings(config: TrainConfig) -> None:
    """Every setting checked once, before any work: one-line `OptionError`s naming the setting and the value.

    Example:
        >>> check_settings(resolve_config(None, {"batch_size": 0}))
        Traceback (most recent call last):
        ...
        multimolecule.utils.errors.OptionError: batch_size must be an integer of at least 1, got 0
    """
    for name in POSITIVE:
        check_positive(name, config[name])
    for name in NOT_NEGATIVE:
        check_positive(name, config[name], allow_zero=True)
    if config.max_steps != -1:  # -1: train for `epochs`
        check_positive("max_steps", config.max_steps)
    for name in ("epochs", "learning_rate", "head_learning_rate"):
        check_above_zero(name, config[name])
    check_choice("pooling", config.pooling, ("mean", "cls"))
    if config.dtype != "auto":  # auto: bfloat16 on a GPU that has it, else float32 (`engine.precision_arguments`)
        check_dtype("dtype", config.dtype)
    check_device("device", config.device)
