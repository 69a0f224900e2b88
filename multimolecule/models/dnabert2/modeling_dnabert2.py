"""DNABERT-2: a post-LayerNorm BERT with ALiBi attention biases and a gated GELU feed-forward layer."""

from __future__ import annotations

import torch
from torch import nn
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutputWithPooling
from transformers.utils import can_return_tuple

from ...modules import (
    AlibiPositionBias,
    ContactPredictionMixin,
    Linear,
    MaskedLMMixin,
    SelfAttention,
    SequencePredictionMixin,
    TokenPredictionMixin,
    padding_bias,
)
from ...modules.attention import AttentionKernel
from ...modules.linear import gated_activation
from ...modules.packing import PackedBatch
from ...modules.prediction import FROM_MASKED_LM
from ..modeling_utils import MultiMoleculeEncoder, MultiMoleculePreTrainedModel
from .configuration_dnabert2 import DnaBert2Config

# The prediction heads pool for themselves: the pooler of an encoder checkpoint (DNABERT-S, a saved
# `DnaBert2Model`) is dropped, like a masked-LM checkpoint's head.
FROM_ENCODER = [*FROM_MASKED_LM, r"^model\.pooler\."]


class DnaBert2Embeddings(nn.Module):
    """`layer_norm(word + token_type)`; no position term, positions enter the attention as ALiBi biases."""

    def __init__(self, config: DnaBert2Config):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(
        self,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor,
        inputs_embeds: torch.Tensor | None,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """(batch, length, hidden) embeddings; padding is embedded like any token (its outputs are ignored)."""
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        if token_type_ids is None:
            token_type_ids = torch.zeros(inputs_embeds.shape[:2], dtype=torch.long, device=inputs_embeds.device)
        embeddings = inputs_embeds + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.layer_norm(embeddings))


class DnaBert2AttentionOutput(nn.Module):
    def __init__(self, config: DnaBert2Config):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, context: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return self.layer_norm(self.dropout(self.dense(context)) + residual)


class DnaBert2Attention(nn.Module):
    def __init__(self, config: DnaBert2Config):
        super().__init__()
        self.self = SelfAttention(config)
        self.output = DnaBert2AttentionOutput(config)

    def forward(self, hidden_states: torch.Tensor, **attention_inputs) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`attention_inputs`: the keywords of `SelfAttention.forward` (kernel, bias, packed batch)."""
        context, weights = self.self(hidden_states, **attention_inputs)
        return self.output(context, hidden_states), weights


class DnaBert2Mlp(nn.Module):
    """`layer_norm(wo(act(gate) * value) + x)` where `gate, value = gated_layers(x).chunk(2)`: the original's
    `mlp.gated_layers` and `mlp.wo`, under its names."""

    def __init__(self, config: DnaBert2Config):
        super().__init__()
        self.gated_layers = Linear(config.hidden_size, 2 * config.intermediate_size, bias=False)
        self.wo = Linear(config.intermediate_size, config.hidden_size)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.hidden_act = config.hidden_act
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        gated = gated_activation(self.gated_layers, hidden_states, self.hidden_act)  # (batch, length, intermediate)
        output = self.wo(self.dropout(gated))
        return self.layer_norm(output + hidden_states)


class DnaBert2Layer(GradientCheckpointingLayer):
    def __init__(self, config: DnaBert2Config):
        super().__init__()
        self.attention = DnaBert2Attention(config)
        self.mlp = DnaBert2Mlp(config)

    def forward(
        self,
        hidden_states: torch.Tensor,
        *,
        attention_kernel: AttentionKernel,
        attention_bias: torch.Tensor | None = None,
        position_embeddings: None = None,
        packed_batch: PackedBatch | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`position_embeddings` is always None: positions enter as ALiBi biases."""
        hidden_states, weights = self.attention(
            hidden_states, attention_kernel=attention_kernel, attention_bias=attention_bias, packed_batch=packed_batch
        )
        return self.mlp(hidden_states), weights


class DnaBert2Encoder(MultiMoleculeEncoder):
    """The layers, with ALiBi: packed batches hand the slopes to the kernel, the padded (eager) path adds the
    (batch, heads, length, length) ALiBi + padding bias exactly as the original computes it."""

    def __init__(self, config: DnaBert2Config):
        super().__init__(config, DnaBert2Layer)
        self.alibi = AlibiPositionBias(config.num_attention_heads)

    @property
    def alibi_slopes(self) -> list[float]:
        return self.alibi.slopes

    def attention_bias(self, attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """ALiBi plus padding, built in fp32 and clamped into `dtype`: (batch, heads, length, length)."""
        bias = self.alibi(attention_mask.shape[1], attention_mask.device) + padding_bias(attention_mask, torch.float32)
        return bias.clamp(min=torch.finfo(dtype).min).to(dtype)


class DnaBert2Pooler(nn.Module):
    """`tanh(dense(h[:, 0]))`, as BERT pools."""

    def __init__(self, config: DnaBert2Config):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        return self.activation(self.dense(hidden_states[:, 0]))


class DnaBert2PreTrainedModel(MultiMoleculePreTrainedModel):
    config_class = DnaBert2Config
    _no_split_modules = ["DnaBert2Layer"]
    _load_notes = {"model": "the pooler of an encoder checkpoint; the heads pool for themselves"}
    # The feed-forward names of checkpoints saved by multimolecule (and of the published multimolecule layout)
    # before the module tree followed the original's.
    _renamed_weights = (
        (r"(encoder\.layer\.\d+\.mlp\.)up_proj\.", r"\1gated_layers."),
        (r"(encoder\.layer\.\d+\.mlp\.)down_proj\.", r"\1wo."),
    )

    def build_backbone(self, config) -> DnaBert2Model:
        """The backbone of the prediction models."""
        return DnaBert2Model(config, add_pooling_layer=False)


class DnaBert2Model(DnaBert2PreTrainedModel):
    """The DNABERT-2 encoder, with a pooler on the first token.

    `attention_mask` may be omitted: it is then derived from the pad id, so padded batches give the same result.
    With `output_hidden_states=True` the output holds `num_hidden_layers + 1` tensors, the embeddings first.
    With sdpa (the default) or `attn_implementation="flash_attention_2"`, the layers skip padding: real tokens are
    packed side by side, attention runs within each sequence, and outputs are padded back with zeros at padding,
    as in the original. Eager attention, or `output_attentions=True`, runs the padded batch as the original does.
    Inputs of any length run (ALiBi); on the packed path attention memory grows linearly with the length
    (`config.query_chunk_size` query rows at a time, 1024 by default).

    Example:
        >>> import torch
        >>> from multimolecule import DnaBert2Config, DnaBert2Model
        >>> config = DnaBert2Config(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)
        >>> model = DnaBert2Model(config)
        >>> output = model(torch.tensor([[1, 5, 6, 1049, 2]]), output_hidden_states=True)
        >>> output.last_hidden_state.shape, output.pooler_output.shape, len(output.hidden_states)
        (torch.Size([1, 5, 64]), torch.Size([1, 64]), 3)
    """

    _keys_to_ignore_on_load_unexpected = [r"^lm_head\."]  # from a masked-LM or pre-training checkpoint
    _keys_to_ignore_on_load_missing = [r"^pooler\."]
    _load_notes = {"pooler": "DNABERT-2 was pre-trained without one; random, as in the original"}

    def __init__(self, config: DnaBert2Config, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embeddings = DnaBert2Embeddings(config)
        self.encoder = DnaBert2Encoder(config)
        self.pooler = DnaBert2Pooler(config) if add_pooling_layer else None
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
    ) -> BaseModelOutputWithPooling:
        r"""Run the encoder (and the pooler, if the model has one).

        Args:
            input_ids: (batch, length) token ids.
            attention_mask: (batch, length), 1 for tokens and 0 for padding; derived from the pad id when omitted.
            token_type_ids: (batch, length) segment ids; zeros when omitted.
            inputs_embeds: (batch, length, hidden) word embeddings to use instead of `input_ids`.
            output_attentions: Also return the attention weights of every layer (runs the eager padded path).
            output_hidden_states: Also return the embeddings and the output of every layer.
        """
        outputs = self.embed_and_encode(
            input_ids,
            attention_mask,
            inputs_embeds,
            output_attentions,
            output_hidden_states,
            token_type_ids=token_type_ids,
        )
        return BaseModelOutputWithPooling(
            last_hidden_state=outputs.last_hidden_state,
            pooler_output=self.pooler(outputs.last_hidden_state) if self.pooler is not None else None,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )


class DnaBert2ForMaskedLM(MaskedLMMixin, DnaBert2PreTrainedModel):
    """DNABERT-2 with its masked-language-modelling head; the decoder shares the word embeddings.

    Example:
        >>> import torch
        >>> from multimolecule import DnaBert2Config, DnaBert2ForMaskedLM
        >>> config = DnaBert2Config(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)
        >>> model = DnaBert2ForMaskedLM(config)
        >>> input_ids = torch.tensor([[1, 5, 4, 1049, 2]])
        >>> output = model(input_ids, labels=torch.tensor([[-100, -100, 6, -100, -100]]))
        >>> output.logits.shape, output.loss.shape
        (torch.Size([1, 5, 4096]), torch.Size([]))
    """


class DnaBert2ForPreTraining(DnaBert2ForMaskedLM):
    """DNABERT-2 as it was pre-trained: masked language modelling is its only objective.

    Example:
        >>> from multimolecule import DnaBert2Config, DnaBert2ForPreTraining
        >>> model = DnaBert2ForPreTraining(DnaBert2Config(num_hidden_layers=1))
    """


class DnaBert2ForSequencePrediction(SequencePredictionMixin, DnaBert2PreTrainedModel):
    """DNABERT-2 with a sequence-level classification or regression head (`config.head_pooling`: cls or mean).

    Example:
        >>> import torch
        >>> from multimolecule import DnaBert2Config, DnaBert2ForSequencePrediction
        >>> config = DnaBert2Config(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)
        >>> model = DnaBert2ForSequencePrediction(config)
        >>> output = model(torch.tensor([[1, 5, 6, 1049, 2]]), labels=torch.tensor([1]))
        >>> output.logits.shape
        torch.Size([1, 2])
    """

    _keys_to_ignore_on_load_unexpected = FROM_ENCODER


class DnaBert2ForTokenPrediction(TokenPredictionMixin, DnaBert2PreTrainedModel):
    """DNABERT-2 with a per-base head: one output per base of the text, whatever the BPE tokens.

    Example:
        >>> import torch
        >>> from multimolecule import DnaBert2Config, DnaBert2ForTokenPrediction
        >>> config = DnaBert2Config(num_hidden_layers=1, token_bases=[""] * 5 + list("ACGT") + ["GA"] * 4087)
        >>> model = DnaBert2ForTokenPrediction(config)
        >>> output = model(torch.tensor([[1, 5, 6, 10, 2]]), labels=torch.tensor([0, 1, 1, 0]))
        >>> output.logits.shape  # A, C and a 2-base token: 4 bases
        torch.Size([1, 4, 2])
    """

    _keys_to_ignore_on_load_unexpected = FROM_ENCODER


class DnaBert2ForContactPrediction(ContactPredictionMixin, DnaBert2PreTrainedModel):
    """DNABERT-2 with a base-pair head: one output per pair of bases of the text.

    Example:
        >>> import torch
        >>> from multimolecule import DnaBert2Config, DnaBert2ForContactPrediction
        >>> config = DnaBert2Config(num_hidden_layers=1, token_bases=[""] * 5 + list("ACGT") + ["GA"] * 4087)
        >>> model = DnaBert2ForContactPrediction(config)
        >>> output = model(torch.tensor([[1, 5, 6, 10, 2]]), labels=torch.randint(2, (4, 4)))
        >>> output.logits.shape
        torch.Size([1, 4, 4, 2])
    """

    _keys_to_ignore_on_load_unexpected = FROM_ENCODER
