from .alibi import AlibiPositionBias, alibi_slopes
from .attention import (
    PackedAttentionInterface,
    SelfAttention,
    padding_bias,
    register_packed_attention,
    uses_packed_batch,
)
from .heads import (
    ContactPredictionHead,
    MaskedLMHead,
    SequencePredictionHead,
    TokenPredictionHead,
    expand_to_bases,
    init_head_weights,
    prediction_loss,
)
from .load_report import ExpectedDifferencesMixin
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
    "AlibiPositionBias",
    "ContactPredictionHead",
    "ContactPredictionMixin",
    "ContactPredictorOutput",
    "ExpectedDifferencesMixin",
    "MaskedLMHead",
    "MaskedLMMixin",
    "PackedAttentionInterface",
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
    "register_packed_attention",
    "resolve_attention_mask",
    "rotate_half",
    "uses_packed_batch",
]
