"""The Nucleotide Transformer: config, tokenizer, models, converter, and `PACKAGE` (what it declares)."""

from ..registry import ModelPackage
from .configuration_nucleotide_transformer import NucleotideTransformerConfig
from .modeling_nucleotide_transformer import (
    NucleotideTransformerForContactPrediction,
    NucleotideTransformerForMaskedLM,
    NucleotideTransformerForPreTraining,
    NucleotideTransformerForSequencePrediction,
    NucleotideTransformerForTokenPrediction,
    NucleotideTransformerModel,
    NucleotideTransformerPreTrainedModel,
)
from .tokenization_nucleotide_transformer import MODEL_MAX_LENGTH, NucleotideTransformerTokenizer

__all__ = [
    "NucleotideTransformerConfig",
    "NucleotideTransformerForContactPrediction",
    "NucleotideTransformerForMaskedLM",
    "NucleotideTransformerForPreTraining",
    "NucleotideTransformerForSequencePrediction",
    "NucleotideTransformerForTokenPrediction",
    "NucleotideTransformerModel",
    "NucleotideTransformerPreTrainedModel",
    "NucleotideTransformerTokenizer",
]

PACKAGE = ModelPackage(
    title="Nucleotide Transformer",
    config=NucleotideTransformerConfig,
    tokenizer=NucleotideTransformerTokenizer,
    model=NucleotideTransformerModel,
    masked_lm=NucleotideTransformerForMaskedLM,
    pretraining=NucleotideTransformerForPreTraining,
    sequence_prediction=NucleotideTransformerForSequencePrediction,
    token_prediction=NucleotideTransformerForTokenPrediction,
    contact_prediction=NucleotideTransformerForContactPrediction,
    trained_length=MODEL_MAX_LENGTH,  # 1,000 tokens: the one source, also of the config and tokenizer defaults
    demo=("nt-demo", "nucleotide-transformer-demo", "nucleotide_transformer-demo"),
    fixtures=("nucleotide_transformer/nt_v2_tiny_a",),
    doc="nucleotide_transformer.md",
)
