"""DNABERT-2: config, tokenizer, models, converter, and `PACKAGE`, what the family declares to the registry."""

from ..registry import ModelPackage
from .configuration_dnabert2 import DnaBert2Config
from .modeling_dnabert2 import (
    DnaBert2ForContactPrediction,
    DnaBert2ForMaskedLM,
    DnaBert2ForPreTraining,
    DnaBert2ForSequencePrediction,
    DnaBert2ForTokenPrediction,
    DnaBert2Model,
    DnaBert2PreTrainedModel,
)
from .tokenization_dnabert2 import DnaBert2Tokenizer
from .tokenizer_recipe import RECIPE

__all__ = [
    "DnaBert2Config",
    "DnaBert2ForContactPrediction",
    "DnaBert2ForMaskedLM",
    "DnaBert2ForPreTraining",
    "DnaBert2ForSequencePrediction",
    "DnaBert2ForTokenPrediction",
    "DnaBert2Model",
    "DnaBert2PreTrainedModel",
    "DnaBert2Tokenizer",
]

# DNABERT-2 was pre-trained on 128-token sequences (its paper).
PACKAGE = ModelPackage(
    title="DNABERT-2",
    config=DnaBert2Config,
    tokenizer=DnaBert2Tokenizer,
    model=DnaBert2Model,
    masked_lm=DnaBert2ForMaskedLM,
    pretraining=DnaBert2ForPreTraining,
    sequence_prediction=DnaBert2ForSequencePrediction,
    token_prediction=DnaBert2ForTokenPrediction,
    contact_prediction=DnaBert2ForContactPrediction,
    trained_length=128,
    # every Linear of the encoder, as the original names them: attention (query, key, value, attention.output.dense)
    # and the gated feed-forward (mlp.gated_layers, mlp.wo)
    lora_targets=("query", "key", "value", "dense", "gated_layers", "wo"),
    demo=("dnabert2-demo",),
    fixtures=("dnabert2/tiny_a",),
    doc="dnabert2.md",
    tokenizer_recipe=RECIPE,  # `train-tokenizer`: DNABERT-2's BPE layout
)
