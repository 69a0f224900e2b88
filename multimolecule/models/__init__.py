from . import dnabert2
from .auto import AutoModelForContactPrediction, AutoModelForSequencePrediction, AutoModelForTokenPrediction, register
from .dnabert2 import *  # noqa: F403

register(
    dnabert2.DnaBert2Config,
    dnabert2.DnaBert2Tokenizer,
    model=dnabert2.DnaBert2Model,
    masked_lm=dnabert2.DnaBert2ForMaskedLM,
    pretraining=dnabert2.DnaBert2ForPreTraining,
    sequence_prediction=dnabert2.DnaBert2ForSequencePrediction,
    token_prediction=dnabert2.DnaBert2ForTokenPrediction,
    contact_prediction=dnabert2.DnaBert2ForContactPrediction,
)

__all__ = [
    "AutoModelForContactPrediction",
    "AutoModelForSequencePrediction",
    "AutoModelForTokenPrediction",
    *dnabert2.__all__,
]
