from .alibi import AlibiPositionBias, alibi_slopes
from .attention import (
    AttentionKernel,
    PackedAttentionInterface,
    SelfAttention,
    padding_bias,
    register_packed_attention,
    select_attention_kernel,
)
from .bases import (
    NUCLEOTIDES,
    BaseLocations,
    base_nucleotides,
    expand_to_bases,
    locate_base_slots,
    locate_bases,
    max_token_length,
    scatter_bases,
)
from .heads import (
    BaseEmbeddings,
    ContactPredictionHead,
    MaskedLMHead,
    SequencePredictionHead,
    TokenPredictionHead,
)
from .initialization import init_head_weights
from .linear import Linear
from .load_report import ExpectedDifferencesMixin
from .losses import labelled_mean, prediction_loss
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
    "Linear",
    "NUCLEOTIDES",
    "BaseEmbeddings",
    "BaseLocations",
    "AlibiPositionBias",
    "AttentionKernel",
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
    "base_nucleotides",
    "expand_to_bases",
    "init_head_weights",
    "labelled_mean",
    "locate_base_slots",
    "locate_bases",
    "max_token_length",
    "padding_bias",
    "prediction_loss",
    "register_packed_attention",
    "resolve_attention_mask",
    "rotate_half",
    "scatter_bases",
    "select_attention_kernel",
]
