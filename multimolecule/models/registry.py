"""The one list of model packages, and what each must provide (the contract, `docs/adding-a-model.md`).

A model package is a folder `multimolecule/models/<model_type>/` holding
- `configuration_<model_type>.py`: the config, a `MultiMoleculeConfig` whose `model_type` names the folder;
- `tokenization_<model_type>.py`: the tokenizer;
- `modeling_<model_type>.py`: the backbone and its masked-LM, pre-training, sequence, token and contact models;
- `convert_checkpoint.py`: `convert_checkpoint(src, dst) -> ConversionReport`, `detect(path) -> bool` (does
  `path` hold an original checkpoint this converter reads?) and `main(argv)` calling `converter_main`;
- `__init__.py`: its `PACKAGE = ModelPackage(...)`, everything else the family knows (trained length, LoRA targets,
  demo names, fixtures, doc page, tokenizer recipe).

Its folder's name in `FAMILIES` (`multimolecule/models/__init__.py`) registers it (`register_model`): in `MODELS`,
the transformers Auto classes and the bundled demos; the API (`convert`, `detect_model`, `info`) and the command
line take the model types from `MODELS`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from transformers import PretrainedConfig, PreTrainedModel, PreTrainedTokenizerBase

from ..demo import register_demo
from ..utils.errors import CheckpointError
from .auto import register
from .conversion_utils import ConversionReport
from .loading_utils import Checkpoint, OriginalLayout, describe, register_layout

# The roles of a family's model classes. Only the encoder (`model`) is required: a family without a masked-LM head
# registers, and whatever needs the missing role refuses it in one line (`ModelPackage.role`).
ROLES = (
    "model",
    "masked_lm",
    "pretraining",
    "sequence_prediction",
    "token_prediction",
    "contact_prediction",
    "track_prediction",
)
AUTO_ROLES = ROLES[:-1]  # the roles with an Auto class (`auto.register`)
ROLE_NAMES = {
    "model": "encoder",
    "masked_lm": "masked-LM head",
    "pretraining": "pre-training head",
    "sequence_prediction": "sequence-prediction head",
    "token_prediction": "per-base prediction head",
    "contact_prediction": "contact-prediction head",
    "track_prediction": "functional-track head",
}


@dataclass(frozen=True)
class TokenizerRecipe:
    """How `train-tokenizer` trains a family's tokenizer on genomes. The generic part (reading the genomes in
    pieces of DNA, checking the options, bounding the vocabulary by what the bases can give, writing atomically) is
    `multimolecule.pretraining.tokenizer`'s; the family gives what is its own.

    Args:
        kind: What the tokenizer is, for messages (`"BPE"`).
        special_tokens: The special tokens the trained tokenizer starts with, in id order.
        alphabet: The single bases that follow them.
        train: `train(pieces, folder, vocab_size, max_token_length, model_max_length)`: train on `pieces` (an
            iterator of A/C/G/T strings) a vocabulary of at most `vocab_size` tokens, none longer than
            `max_token_length` bases, save the tokenizer into `folder` and return it.
    """

    kind: str
    special_tokens: tuple[str, ...]
    alphabet: tuple[str, ...]
    train: Callable[[Iterator[str], Path, int, int, int], PreTrainedTokenizerBase]

    @property
    def smallest(self) -> int:
        """The fewest tokens a vocabulary can have: the specials and the alphabet."""
        return len(self.special_tokens) + len(self.alphabet)


class ModelClasses(dict):
    """A family's model classes by role; a role the family lacks raises `CheckpointError` with one line."""

    def __init__(self, title: str, classes: dict[str, type[PreTrainedModel]]):
        super().__init__(classes)
        self.title = title

    def __missing__(self, role: str):
        raise CheckpointError(f"{self.title} has no {ROLE_NAMES.get(role, role)}")


@dataclass(frozen=True)
class ModelPackage:
    """One model family: its config, tokenizer, model classes and (by the folder layout) its converter, and what
    else the family knows, declared here so that nothing outside its folder names it.

    Args:
        title: The family's name, for messages and docs.
        config: Its config class.
        tokenizer: Its tokenizer class.
        model: The encoder (required).
        masked_lm: The masked-LM model. This and the roles below are optional: a command that needs a missing one
            refuses the family in one line.
        pretraining: The pre-training model.
        sequence_prediction: The sequence-prediction model.
        token_prediction: The per-base prediction model.
        contact_prediction: The contact-prediction model.
        track_prediction: A species-conditioned model with functional-track heads (`predict-tracks`).
        trained_length: Tokens per window (specials included) of the family's published pretraining, given to a
            model built from scratch (`pretrain --architecture <family>`).
        lora_targets: Module names that get LoRA adapters by default (`train --lora`).
        demo: The names of the family's bundled demo model, the folder `multimolecule/demo/<folder>/`, if it has
            one (the first is the one messages and docs use).
        fixtures: Original checkpoints with reference outputs, as paths under `../shared/fixtures` (the first is
            the one the shared contract tests convert).
        doc: The family's documentation page, relative to `docs/`.
        tokenizer_recipe: How `train-tokenizer` trains a tokenizer of the family (`TokenizerRecipe`), if it can.
        original_classes: The originals' remote-code classes (as their `auto_map` names them) whose role is not the
            one transformers' Auto class of that name gives ours: {class name: role}. NTv3's post-trained
            `AutoModel` is the species-conditioned model with track heads: `{"NTv3PostTrained": "track_prediction"}`.

    Example:
        >>> from multimolecule.models.registry import get_model
        >>> package = get_model("dnabert2")
        >>> package.name, package.model.__name__, package.converter.__name__
        ('dnabert2', 'DnaBert2Model', 'multimolecule.models.dnabert2.convert_checkpoint')
        >>> package.trained_length, package.fixtures[0]
        (128, 'dnabert2/tiny_a')
    """

    title: str
    config: type[PretrainedConfig]
    tokenizer: type[PreTrainedTokenizerBase]
    model: type[PreTrainedModel]
    masked_lm: type[PreTrainedModel] | None = None
    pretraining: type[PreTrainedModel] | None = None
    sequence_prediction: type[PreTrainedModel] | None = None
    token_prediction: type[PreTrainedModel] | None = None
    contact_prediction: type[PreTrainedModel] | None = None
    track_prediction: type[PreTrainedModel] | None = None
    trained_length: int | None = None
    lora_targets: tuple[str, ...] = ("query", "key", "value", "dense")  # BERT/ESM: attention, feed-forward
    original_classes: Mapping[str, str] = field(default_factory=dict)
    demo: tuple[str, ...] = ()
    fixtures: tuple[str, ...] = ()
    doc: str | None = None
    tokenizer_recipe: TokenizerRecipe | None = None

    @property
    def name(self) -> str:
        """The `model_type`, the key of `MODELS`."""
        return self.config.model_type

    @property
    def folder(self) -> str:
        """The package's folder under `multimolecule/models/`: the `model_type`, or a short name for it (`ntv3`:
        the original's own `model_type` is `ntv3`, so ours must differ for its checkpoints to be told apart)."""
        return self.config.__module__.split(".")[-2]

    @property
    def model_classes(self) -> ModelClasses:
        """The model classes the family has, by role (`ROLES`); asking for a missing role raises `CheckpointError`
        naming it."""
        classes = {role: getattr(self, role) for role in ROLES if getattr(self, role) is not None}
        return ModelClasses(self.title, classes)

    def role(self, role: str) -> type[PreTrainedModel]:
        """The model class of `role`; `CheckpointError` in one line when the family has none.

        Example:
            >>> get_model("dnabert2").role("masked_lm").__name__
            'DnaBert2ForMaskedLM'
        """
        return self.model_classes[role]

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
    """Add a model package to `MODELS`, its classes to the transformers Auto classes and ours, its original layouts
    to those `from_pretrained` reads, and its demo's names to the bundled demos (`multimolecule.demo`)."""
    classes = package.model_classes
    register(package.config, package.tokenizer, **{role: classes[role] for role in AUTO_ROLES if role in classes})
    for layout in package.original_layouts:
        register_layout(layout)
    register_demo(package.demo, package.folder)
    MODELS[package.name] = package
    return package


def get_model(model_type: str) -> ModelPackage:
    """The registered package of `model_type` (or of its folder name); `KeyError` naming the registered ones
    otherwise.

    Example:
        >>> get_model("nucleotide_transformer").title
        'Nucleotide Transformer'
        >>> get_model("ntv3").name
        'nucleotide_transformer_v3'
    """
    if model_type in MODELS:
        return MODELS[model_type]
    for package in MODELS.values():
        if package.folder == model_type:
            return package
    raise KeyError(f"unknown model {model_type!r}; choose one of {', '.join(MODELS)}")


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
