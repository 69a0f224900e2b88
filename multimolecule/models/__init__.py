"""Every model family, registered once: a new family is a folder (declaring its `PACKAGE`, see
docs/adding-a-model.md) and its name in `FAMILIES`; everything else reads the registry (`MODELS`)."""

import importlib

from ..utils.errors import CheckpointError, CheckpointShapeError, ConversionError
from . import remote_code
from .auto import AutoModelForContactPrediction, AutoModelForSequencePrediction, AutoModelForTokenPrediction
from .loading_utils import fetch, resolve_name  # noqa: F401  (fetch: for the engines, not in __all__)
from .pretrained import (  # noqa: F401  (for the engines and the API, not in __all__: the one loader and its helpers)
    cached_model,
    load_model,
    silence_transformers,
    special_template,
    species_condition,
    token_lengths,
    trained_window,
)
from .registry import (
    MODELS,
    ModelPackage,
    TokenizerRecipe,
    detect_model_type,
    from_pretrained,
    get_model,  # noqa: F401  (for the engines: a family by model_type or folder name)
    package_of,
    pipeline,
    register_model,
    tokenizer_from_pretrained,
)
from .tokenization_utils import DnaTokenizerFast

# The registry: every model family by its folder under multimolecule/models/, in order (the order of `MODELS`, of
# listings and of the choices made among families, such as `train-tokenizer`'s recipe). Each folder's `PACKAGE` is
# registered, and its public classes (its `__all__`) are this package's and `multimolecule`'s.
FAMILIES = ("dnabert2", "nucleotide_transformer", "ntv3")

_exported = []
for _folder in FAMILIES:
    _family = importlib.import_module(f"{__name__}.{_folder}")
    register_model(_family.PACKAGE)
    globals().update({name: getattr(_family, name) for name in _family.__all__})
    _exported += _family.__all__
remote_code.install()

__all__ = [
    "MODELS",
    "AutoModelForContactPrediction",
    "AutoModelForSequencePrediction",
    "AutoModelForTokenPrediction",
    "CheckpointError",
    "CheckpointShapeError",
    "ConversionError",
    "DnaTokenizerFast",
    "ModelPackage",
    "TokenizerRecipe",
    "detect_model_type",
    "from_pretrained",
    "package_of",
    "pipeline",
    "register_model",
    "resolve_name",
    "tokenizer_from_pretrained",
    *_exported,
]
