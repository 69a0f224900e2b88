"""Every model family, registered once: a new family is a folder (declaring its `PACKAGE`) and one
`register_model(<family>.PACKAGE)` line here."""

from ..utils.errors import CheckpointError, CheckpointShapeError, ConversionError
from . import dnabert2, ntv3, nucleotide_transformer, remote_code
from .auto import AutoModelForContactPrediction, AutoModelForSequencePrediction, AutoModelForTokenPrediction
from .dnabert2 import *  # noqa: F403
from .loading_utils import fetch, resolve_name  # noqa: F401  (fetch: for the engines, not in __all__)
from .ntv3 import *  # noqa: F403
from .nucleotide_transformer import *  # noqa: F403
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
    detect_model_type,
    from_pretrained,
    get_model,  # noqa: F401  (for the engines: a family by model_type or folder name)
    package_of,
    pipeline,
    register_model,
    tokenizer_from_pretrained,
)
from .tokenization_utils import DnaTokenizerFast

register_model(dnabert2.PACKAGE)
register_model(nucleotide_transformer.PACKAGE)
register_model(ntv3.PACKAGE)
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
    "detect_model_type",
    "from_pretrained",
    "package_of",
    "pipeline",
    "register_model",
    "resolve_name",
    "tokenizer_from_pretrained",
    *dnabert2.__all__,
    *nucleotide_transformer.__all__,
    *ntv3.__all__,
]
