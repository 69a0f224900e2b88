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
from .tokenization_nucleotide_transformer import NucleotideTransformerTokenizer

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
