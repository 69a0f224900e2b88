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
