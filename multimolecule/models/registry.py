"""The one list of model packages, and what each must provide (the contract, `docs/adding-a-model.md`).

A model package is a folder `multimolecule/models/<model_type>/` holding
- `configuration_<model_type>.py`: the config, a `MultiMoleculeConfig` whose `model_type` names the folder;
- `tokenization_<model_type>.py`: the tokenizer;
- `modeling_<model_type>.py`: the backbone and its masked-LM, pre-training, sequence, token and contact models;
- `convert_checkpoint.py`: `convert_checkpoint(src, dst) -> ConversionReport`, `detect(path) -> bool` (does
  `path` hold an original checkpoint this converter reads?) and `main(argv)` calling `converter_main`.

`register_model(ModelPackage(...))` in `multimolecule/models/__init__.py` adds it to `MODELS` and to the
transformers Auto classes; the API (`convert`, `detect_model`, `info`) and the command line take the model
types from `MODELS`.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

from ..conversion import ConversionReport
from .auto import register


@dataclass(frozen=True)
class ModelPackage:
    """One model family: its config, tokenizer, model classes and (by the folder layout) its converter.

    Example:
        >>> from multimolecule.models.registry import get_model
        >>> package = get_model("dnabert2")
        >>> package.name, package.model.__name__, package.converter.__name__
        ('dnabert2', 'DnaBert2Model', 'multimolecule.models.dnabert2.convert_checkpoint')
    """

    title: str
    config: type[PretrainedConfig]
    tokenizer: type[PreTrainedTokenizerBase]
    model: type[PreTrainedModel]
    masked_lm: type[PreTrainedModel]
    pretraining: type[PreTrainedModel]
    sequence_prediction: type[PreTrainedModel]
    token_prediction: type[PreTrainedModel]
    contact_prediction: type[PreTrainedModel]

    @property
    def name(self) -> str:
        """The `model_type`, which is also the package's folder name."""
        return self.config.model_type

    @property
    def model_classes(self) -> dict[str, type[PreTrainedModel]]:
        """Every model class, by its role: model, masked_lm, pretraining, sequence/token/contact_prediction."""
        roles = ("model", "masked_lm", "pretraining", "sequence_prediction", "token_prediction", "contact_prediction")
        return {role: getattr(self, role) for role in roles}

    @property
    def converter(self) -> ModuleType:
        """The package's `convert_checkpoint` module."""
        package = self.config.__module__.rpartition(".")[0]
        return importlib.import_module(f"{package}.convert_checkpoint")

    def convert(self, checkpoint_path: str | os.PathLike, output_path: str | os.PathLike) -> ConversionReport:
        """Convert an original checkpoint directory; raises `ConversionError` with the reason if it cannot."""
        return self.converter.convert_checkpoint(checkpoint_path, output_path)

    def detect(self, path: str | os.PathLike) -> bool:
        """Whether `path` holds an original checkpoint of this model (never raises)."""
        return self.converter.detect(Path(path))


MODELS: dict[str, ModelPackage] = {}


def register_model(package: ModelPackage) -> ModelPackage:
    """Add a model package to `MODELS` and its classes to the transformers Auto classes and ours."""
    register(package.config, package.tokenizer, **package.model_classes)
    MODELS[package.name] = package
    return package


def get_model(model_type: str) -> ModelPackage:
    """The registered package of `model_type`; `KeyError` naming the registered ones otherwise.

    Example:
        >>> get_model("nucleotide_transformer").title
        'Nucleotide Transformer'
    """
    if model_type not in MODELS:
        raise KeyError(f"unknown model {model_type!r}; choose one of {', '.join(MODELS)}")
    return MODELS[model_type]


def detect_model_type(path: str | os.PathLike) -> str | None:
    """The `model_type` of the first package whose converter reads the original checkpoint at `path`, if any.

    Example:
        >>> detect_model_type("no/such/directory") is None
        True
    """
    return next((name for name, package in MODELS.items() if package.detect(path)), None)
