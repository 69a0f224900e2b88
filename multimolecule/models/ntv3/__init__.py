"""The Nucleotide Transformer v3 (NTv3): config, tokenizer, models, converter, and `PACKAGE` (what it declares)."""

from ..registry import ModelPackage
from .configuration_ntv3 import NucleotideTransformerV3Config
from .modeling_ntv3 import (
    NucleotideTransformerV3ForMaskedLM,
    NucleotideTransformerV3ForSequencePrediction,
    NucleotideTransformerV3ForTokenPrediction,
    NucleotideTransformerV3ForTrackPrediction,
    NucleotideTransformerV3Model,
    NucleotideTransformerV3PreTrainedModel,
)
from .tokenization_ntv3 import NucleotideTransformerV3Tokenizer

__all__ = [
    "NucleotideTransformerV3Config",
    "NucleotideTransformerV3ForMaskedLM",
    "NucleotideTransformerV3ForSequencePrediction",
    "NucleotideTransformerV3ForTokenPrediction",
    "NucleotideTransformerV3ForTrackPrediction",
    "NucleotideTransformerV3Model",
    "NucleotideTransformerV3PreTrainedModel",
    "NucleotideTransformerV3Tokenizer",
]

# No pre-training or contact head: `pretrain` uses the masked-LM model, and the contact role is refused.
# A model built from scratch (`pretrain --config`) gets windows of 8,192 bases, a multiple of 2^7.
PACKAGE = ModelPackage(
    title="NTv3",
    config=NucleotideTransformerV3Config,
    tokenizer=NucleotideTransformerV3Tokenizer,
    model=NucleotideTransformerV3Model,
    masked_lm=NucleotideTransformerV3ForMaskedLM,
    sequence_prediction=NucleotideTransformerV3ForSequencePrediction,
    token_prediction=NucleotideTransformerV3ForTokenPrediction,
    track_prediction=NucleotideTransformerV3ForTrackPrediction,
    trained_length=8192,
    lora_targets=("query", "key", "value", "output", "up_proj", "down_proj"),
    demo=("ntv3-demo",),
    fixtures=("ntv3/ntv3_tiny_a", "ntv3/ntv3_post_tiny_a"),
    doc="ntv3.md",
    original_classes={"NTv3PostTrained": "track_prediction"},  # its AutoModel: the conditioned model, with tracks
)
