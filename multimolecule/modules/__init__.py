from .alibi import AlibiPositionBias, alibi_slopes
from .attention import ATTENTION_FUNCTIONS, SelfAttention, padding_bias
from .heads import (
    ContactPredictionHead,
    MaskedLMHead,
    SequencePredictionHead,
    TokenPredictionHead,
    expand_to_bases,
    init_head_weights,
    prediction_loss,
)
from .outputs import ContactPredictorOutput, SequencePredictorOutput, TokenPredictorOutput
from .prediction import (
    ContactPredictionMixin,
    MaskedLMMixin,
    SequencePredictionMixin,
    TokenPredictionMixin,
    resolve_attention_mask,
)
from .rotary import RotaryEmbedding, apply_rotary, rotate_half

__all__ = [
    "ATTENTION_FUNCTIONS",
    "AlibiPositionBias",
    "ContactPredictionHead",
    "ContactPredictionMixin",
    "ContactPredictorOutput",
    "MaskedLMHead",
    "MaskedLMMixin",
    "RotaryEmbedding",
    "SelfAttention",
    "SequencePredictionHead",
    "SequencePredictionMixin",
    "SequencePredictorOutput",
    "TokenPredictionHead",
    "TokenPredictionMixin",
    "TokenPredictorOutput",
    "alibi_slopes",
    "apply_rotary",
    "expand_to_bases",
    "init_head_weights",
    "padding_bias",
    "prediction_loss",
    "resolve_attention_mask",
    "rotate_half",
]
