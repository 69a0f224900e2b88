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

from ..utils.errors import CheckpointError
from .auto import register
from .conversion_utils import ConversionReport
from .loading_utils import Checkpoint, OriginalLayout, describe, register_layout


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

    @property
    def original_layout(self) -> OriginalLayout | None:
        """How `from_pretrained` loads the original PyTorch layout as it is (the converter's `ORIGINAL_LAYOUT`)."""
        return getattr(self.converter, "ORIGINAL_LAYOUT", None)

    @property
    def original_layouts(self) -> tuple[OriginalLayout, ...]:
        """Every original layout `from_pretrained` loads as it is: the converter's `ORIGINAL_LAYOUTS` where a
        family has several (DNABERT-2 and DNABERT-S), else its one `ORIGINAL_LAYOUT`."""
        layouts = getattr(self.converter, "ORIGINAL_LAYOUTS", None)
        if layouts is None:
            layouts = (self.original_layout,) if self.original_layout is not None else ()
        return tuple(layouts)


MODELS: dict[str, ModelPackage] = {}


def register_model(package: ModelPackage) -> ModelPackage:
    """Add a model package to `MODELS` and its classes to the transformers Auto classes and ours."""
    register(package.config, package.tokenizer, **package.model_classes)
    for layout in package.original_layouts:
        register_layout(layout)
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


# Task names (transformers' pipeline tasks where one exists, and ours) -> the role of the model class.
TASKS = {
    "feature-extraction": "model",
    "fill-mask": "masked_lm",
    "pretraining": "pretraining",
    "text-classification": "sequence_prediction",
    "sequence-prediction": "sequence_prediction",
    "token-classification": "token_prediction",
    "token-prediction": "token_prediction",
    "contact-prediction": "contact_prediction",
}


def package_of(name_or_path: str | os.PathLike | Checkpoint, **kwargs) -> ModelPackage:
    """The package of a checkpoint (demo name, directory, Hub id or `Checkpoint`), in our layout or an original
    one, read from its `config.json`; `kwargs` are `from_pretrained`'s (`revision`, `token`, ...)."""
    checkpoint = Checkpoint.resolve(name_or_path, kwargs)
    if checkpoint.model_type not in MODELS:
        raise CheckpointError(
            f"{checkpoint.name} holds {describe(checkpoint.config_dict)}; multimolecule loads {', '.join(MODELS)}"
        )
    return MODELS[checkpoint.model_type]


def from_pretrained(
    name_or_path: str | os.PathLike | Checkpoint, task: str = "feature-extraction", **kwargs
) -> PreTrainedModel:
    """The model for `task` of the checkpoint `name_or_path`, whichever family and layout it is in.

    `name_or_path` is a demo name (`"dnabert2-demo"`, `"nt-demo"`), a directory or a Hub id, in our layout or as
    the original authors published it (`zhihan1996/DNABERT-2-117M`, `InstaDeepAI/nucleotide-transformer-v2-*`), or
    a `Checkpoint` already resolved. `task` is one of `TASKS`: `"feature-extraction"` (the encoder), `"fill-mask"`,
    `"pretraining"`, `"sequence-prediction"`, `"token-prediction"`, `"contact-prediction"` (or transformers' names
    `"text-classification"` / `"token-classification"`). Other keyword arguments go to the class's
    `from_pretrained` (`revision`, `token`, `dtype`, `num_labels`, ...).

    Example:
        >>> import multimolecule
        >>> model = multimolecule.from_pretrained("nt-demo", task="fill-mask")
        >>> type(model).__name__
        'NucleotideTransformerForMaskedLM'
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    checkpoint = Checkpoint.resolve(name_or_path, kwargs)
    model_class = package_of(checkpoint).model_classes[TASKS[task]]
    return model_class.from_pretrained(checkpoint, **kwargs)


def tokenizer_from_pretrained(name_or_path: str | os.PathLike | Checkpoint, **kwargs) -> PreTrainedTokenizerBase:
    """The tokenizer of the checkpoint `name_or_path` (as for `from_pretrained`), built from the original files
    where the checkpoint is an original one.

    Example:
        >>> import multimolecule
        >>> multimolecule.tokenizer_from_pretrained("dnabert2-demo")("ACGT")["input_ids"]
        [1, 32, 8, 2]
    """
    checkpoint = Checkpoint.resolve(name_or_path, kwargs)
    return package_of(checkpoint).tokenizer.from_pretrained(checkpoint, **kwargs)


def pipeline(task: str, model: str | os.PathLike | PreTrainedModel, tokenizer=None, **kwargs):
    """transformers' `pipeline` for any checkpoint `from_pretrained` reads, originals and demo names included.

    Example:
        >>> import multimolecule
        >>> predictor = multimolecule.pipeline("fill-mask", model="dnabert2-demo")
        >>> len(predictor("ACGTACGT<mask>ACGT", top_k=3))
        3
    """
    from transformers import pipeline as transformers_pipeline

    if isinstance(model, (str, os.PathLike)):
        checkpoint = Checkpoint.resolve(model)
        tokenizer = tokenizer if tokenizer is not None else tokenizer_from_pretrained(checkpoint)
        model = from_pretrained(checkpoint, task=task) if task in TASKS else checkpoint.path
    return transformers_pipeline(task, model=model, tokenizer=tokenizer, **kwargs)
