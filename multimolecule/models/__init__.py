"""Every model family, registered once: a new family is a folder and one `register_model` call here."""

from ..utils.errors import CheckpointError, CheckpointShapeError, ConversionError
from . import dnabert2, nucleotide_transformer, remote_code
from .auto import AutoModelForContactPrediction, AutoModelForSequencePrediction, AutoModelForTokenPrediction
from .dnabert2 import *  # noqa: F403
from .loading_utils import fetch, resolve_name  # noqa: F401  (fetch: for the engines, not in __all__)
from .nucleotide_transformer import *  # noqa: F403
from .pretrained import (  # noqa: F401  (for the engines and the API, not in __all__: the one loader and its helpers)
    cached_model,
    load_model,
    silence_transformers,
    special_template,
    token_lengths,
    trained_window,
)
from .registry import (
    MODELS,
    ModelPackage,
    detect_model_type,
    from_pretrained,
    package_of,
    pipeline,
    register_model,
    tokenizer_from_pretrained,
)
from .tokenization_utils import DnaTokenizerFast

register_model(
    ModelPackage(
        title="DNABERT-2",
        config=dnabert2.DnaBert2Config,
        tokenizer=dnabert2.DnaBert2Tokenizer,
        model=dnabert2.DnaBert2Model,
        masked_lm=dnabert2.DnaBert2ForMaskedLM,
        pretraining=dnabert2.DnaBert2ForPreTraining,
        sequence_prediction=dnabert2.DnaBert2ForSequencePrediction,
        token_prediction=dnabert2.DnaBert2ForTokenPrediction,
        contact_prediction=dnabert2.DnaBert2ForContactPrediction,
    )
)
register_model(
    ModelPackage(
        title="Nucleotide Transformer",
        config=nucleotide_transformer.NucleotideTransformerConfig,
        tokenizer=nucleotide_transformer.NucleotideTransformerTokenizer,
        model=nucleotide_transformer.NucleotideTransformerModel,
        masked_lm=nucleotide_transformer.NucleotideTransformerForMaskedLM,
        pretraining=nucleotide_transformer.NucleotideTransformerForPreTraining,
        sequence_prediction=nucleotide_transformer.NucleotideTransformerForSequencePrediction,
        token_prediction=nucleotide_transformer.NucleotideTransformerForTokenPrediction,
        contact_prediction=nucleotide_transformer.NucleotideTransformerForContactPrediction,
    )
)
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
]
