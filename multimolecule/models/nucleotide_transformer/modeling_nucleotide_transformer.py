"""The Nucleotide Transformer: a pre-LayerNorm ESM-style encoder with a final LayerNorm.

v2 uses rotary positions and a gated SiLU feed-forward layer; v1 learned absolute positions and a GELU one.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.activations import ACT2FN
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutput
from transformers.utils import can_return_tuple

from ...modules import (
    ContactPredictionMixin,
    Linear,
    MaskedLMMixin,
    RotaryEmbedding,
    SelfAttention,
    SequencePredictionMixin,
    TokenPredictionMixin,
    resolve_attention_mask,
)
from ...modules.attention import AttentionKernel
from ...modules.linear import gated_activation
from ...modules.packing import PackedBatch, warn_past_trained_length
from ..modeling_utils import MultiMoleculeEncoder, MultiMoleculePreTrainedModel
from .configuration_nucleotide_transformer import NucleotideTransformerConfig

# ESM's token dropout assumes 15% of tokens selected for masking, 80% of those replaced by <mask>.
MASK_RATIO_TRAIN = 0.15 * 0.8


class NucleotideTransformerEmbeddings(nn.Module):
    """Word embeddings (plus learned positions in v1), zeroed at padding, as ESM computes them.

    v2: `word_embeddings(ids) * attention_mask`. v1 adds `position_embeddings(position_ids)` where positions count
    real tokens from `pad_token_id + 1`. `token_dropout` and `emb_layer_norm_before` follow ESM.
    """

    def __init__(self, config: NucleotideTransformerConfig):
        super().__init__()
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = None
        if config.position_embedding_type == "absolute":
            self.position_embeddings = nn.Embedding(
                config.max_position_embeddings, config.hidden_size, padding_idx=config.pad_token_id
            )
        self.layer_norm = (
            nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) if config.emb_layer_norm_before else None
        )
        self.padding_idx = config.pad_token_id
        self.mask_token_id = config.mask_token_id
        self.token_dropout = config.token_dropout

    def position_ids(self, input_ids: torch.Tensor | None, attention_mask: torch.Tensor) -> torch.Tensor:
        """ESM's positions: `padding_idx + 1, + 2, ...` over real tokens, `padding_idx` at padding. Real tokens are
        those that are not `<pad>` (as in ESM), or for `inputs_embeds` those the attention mask keeps, so that
        embeddings of ids and the ids themselves get the same positions."""
        is_token = (attention_mask if input_ids is None else input_ids.ne(self.padding_idx)).long()
        return torch.cumsum(is_token, dim=1) * is_token + self.padding_idx

    def forward(
        self, input_ids: torch.Tensor | None, attention_mask: torch.Tensor, inputs_embeds: torch.Tensor | None
    ) -> torch.Tensor:
        embeddings = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        if self.token_dropout and input_ids is not None:
            is_mask = input_ids == self.mask_token_id  # (batch, length)
            embeddings = embeddings.masked_fill(is_mask[..., None], 0.0)
            observed = is_mask.sum(-1).float() / attention_mask.sum(-1)  # (batch,)
            embeddings = (embeddings * (1 - MASK_RATIO_TRAIN) / (1 - observed)[:, None, None]).to(embeddings.dtype)
        if self.position_embeddings is not None:
            embeddings = embeddings + self.position_embeddings(self.position_ids(input_ids, attention_mask))
        if self.layer_norm is not None:
            embeddings = self.layer_norm(embeddings)
        return embeddings * attention_mask[..., None].to(embeddings.dtype)  # (batch, length, hidden)


class NucleotideTransformerSelfOutput(nn.Module):
    def __init__(self, config: NucleotideTransformerConfig):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.dense(context))


class NucleotideTransformerAttention(nn.Module):
    """`x + output(attention(layer_norm(x)))`: pre-LayerNorm self-attention."""

    def __init__(self, config: NucleotideTransformerConfig):
        super().__init__()
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.self = SelfAttention(config)
        self.output = NucleotideTransformerSelfOutput(config)

    def forward(self, hidden_states: torch.Tensor, **attention_inputs) -> tuple[torch.Tensor, torch.Tensor | None]:
        """`attention_inputs`: the keywords of `SelfAttention.forward` (kernel, bias, rotary tables, packed batch)."""
        context, weights = self.self(self.layer_norm(hidden_states), **attention_inputs)
        return hidden_states + self.output(context), weights


class NucleotideTransformerIntermediate(nn.Module):
    """ESM's `intermediate`: `act(h1) * h2` for `h1, h2 = dense(x).chunk(2)` with `use_glu`, else `act(dense(x))`."""

    def __init__(self, config: NucleotideTransformerConfig):
        super().__init__()
        self.use_glu = config.use_glu
        width = 2 * config.intermediate_size if config.use_glu else config.intermediate_size
        self.dense = Linear(config.hidden_size, width, bias=config.add_bias_fnn)
        self.hidden_act = config.hidden_act
        self.activation = ACT2FN[config.hidden_act]

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if self.use_glu:
            return gated_activation(self.dense, hidden_states, self.hidden_act)  # (batch, length, intermediate)
        return self.activation(self.dense(hidden_states))


class NucleotideTransformerOutput(nn.Module):
    """ESM's `output`: `x + dropout(dense(h))`."""

    def __init__(self, config: NucleotideTransformerConfig):
        super().__init__()
        self.dense = Linear(config.intermediate_size, config.hidden_size, bias=config.add_bias_fnn)
        self.dropout = nn.Dropout(config.hidden_dropout)

    def forward(self, hidden_states: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        return residual + self.dropout(self.dense(hidden_states))


class NucleotideTransformerLayer(GradientCheckpointingLayer):
    """Pre-LayerNorm attention, then `x + output(intermediate(layer_norm(x)))`. The module tree is ESM's
    (`attention.self.{query,key,value}`, `attention.output.dense`, `intermediate.dense`, `output.dense`), so PEFT
    target lists written for the original adapt the same layers."""

    def __init__(self, config: NucleotideTransformerConfig):
        super().__init__()
        self.attention = NucleotideTransformerAttention(config)
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.intermediate = NucleotideTransformerIntermediate(config)
        self.output = NucleotideTransformerOutput(config)

    def forward(
        self,
        hidden_states: torch.Tensor,
        *,
        attention_kernel: AttentionKernel,
        attention_bias: torch.Tensor | None = None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        packed_batch: PackedBatch | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        hidden_states, weights = self.attention(
            hidden_states,
            attention_kernel=attention_kernel,
            attention_bias=attention_bias,
            position_embeddings=position_embeddings,
            packed_batch=packed_batch,
        )
        return self.output(self.intermediate(self.layer_norm(hidden_states)), hidden_states), weights


class NucleotideTransformerEncoder(MultiMoleculeEncoder):
    """The layers and the final LayerNorm, with rotary positions in v2 (restarting at 0 in each packed sequence).
    The padded (eager) path adds a (batch, 1, 1, length) padding bias, as the original does."""

    def __init__(self, config: NucleotideTransformerConfig):
        super().__init__(config, NucleotideTransformerLayer, final_layer_norm=True)
        head_dim = config.hidden_size // config.num_attention_heads
        self.rotary = RotaryEmbedding(head_dim) if config.position_embedding_type == "rotary" else None

    def position_embeddings(self, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        return self.rotary(position_ids) if self.rotary is not None else None  # fp32 cos, sin


class NucleotideTransformerPreTrainedModel(MultiMoleculePreTrainedModel):
    config_class = NucleotideTransformerConfig
    _no_split_modules = ["NucleotideTransformerLayer"]
    # The feed-forward names of checkpoints saved by multimolecule before the module tree followed ESM's.
    _renamed_weights = (
        (r"(encoder\.layer\.\d+\.)mlp\.up_proj\.", r"\1intermediate.dense."),
        (r"(encoder\.layer\.\d+\.)mlp\.down_proj\.", r"\1output.dense."),
        (r"(encoder\.layer\.\d+\.)mlp\.layer_norm\.", r"\1layer_norm."),
    )

    def build_backbone(self, config) -> NucleotideTransformerModel:
        """The backbone of the prediction models."""
        return NucleotideTransformerModel(config)


class NucleotideTransformerModel(NucleotideTransformerPreTrainedModel):
    """The Nucleotide Transformer encoder, without a pooler (the originals have none).

    `attention_mask` may be omitted: it is then derived from the pad id, so padded batches give the same result
    (the original PyTorch port attends to padding instead). `encoder_attention_mask` is accepted for the code of
    the published model cards; the model has no cross-attention, so it must equal `attention_mask` if given.
    With `output_hidden_states=True` the output holds `num_hidden_layers + 1` tensors as in the original: the
    embeddings, the outputs of layers 0 .. L-2, and the output of the last layer AFTER the final LayerNorm
    (that is, `hidden_states[-1]` is `last_hidden_state`).

    Example:
        >>> import torch
        >>> from multimolecule import NucleotideTransformerConfig, NucleotideTransformerModel
        >>> config = NucleotideTransformerConfig(
        ...     hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128
        ... )
        >>> model = NucleotideTransformerModel(config)
        >>> output = model(torch.tensor([[3, 369, 369, 4102, 1]]), output_hidden_states=True)
        >>> output.last_hidden_state.shape, len(output.hidden_states)
        (torch.Size([1, 5, 64]), 3)
    """

    _keys_to_ignore_on_load_unexpected = [r"^lm_head\."]  # from a masked-LM or pre-training checkpoint

    def __init__(self, config: NucleotideTransformerConfig, add_pooling_layer: bool = False):
        if add_pooling_layer:  # taken, as every encoder takes it, so that callers need not know the family
            raise ValueError("the Nucleotide Transformer has no pooler (the originals have none)")
        super().__init__(config)
        self.embeddings = NucleotideTransformerEmbeddings(config)
        self.encoder = NucleotideTransformerEncoder(config)
        self.post_init()

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        encoder_attention_mask: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
    ) -> BaseModelOutput:
        r"""Run the encoder.

        Args:
            input_ids: (batch, length) token ids.
            attention_mask: (batch, length), 1 (or True) for tokens and 0 for padding; derived from the pad id when
                omitted.
            inputs_embeds: (batch, length, hidden) word embeddings to use instead of `input_ids`.
            encoder_attention_mask: Accepted for compatibility with the original's model card; must equal
                `attention_mask`, as the model has no cross-attention.
            output_attentions: Also return the attention weights of every layer (runs the eager padded path).
            output_hidden_states: Also return the hidden states, following the original's convention (the last one
                is after the final LayerNorm).
        """
        if encoder_attention_mask is not None:
            mask = resolve_attention_mask(input_ids, attention_mask, inputs_embeds, self.config.pad_token_id)
            if not torch.equal(encoder_attention_mask.to(mask.device).bool(), mask.bool()):
                raise ValueError(
                    "encoder_attention_mask differs from attention_mask; the Nucleotide Transformer has no "
                    "cross-attention, so only the (self-)attention_mask is used"
                )
        length = (input_ids if input_ids is not None else inputs_embeds).shape[1]
        warn_past_trained_length(length, self.config.trained_length, "The Nucleotide Transformer")
        return self.embed_and_encode(input_ids, attention_mask, inputs_embeds, output_attentions, output_hidden_states)


class NucleotideTransformerForMaskedLM(MaskedLMMixin, NucleotideTransformerPreTrainedModel):
    """The Nucleotide Transformer with its masked-language-modelling head (an untied decoder in v2).

    Example:
        >>> import torch
        >>> from multimolecule import NucleotideTransformerConfig, NucleotideTransformerForMaskedLM
        >>> config = NucleotideTransformerConfig(
        ...     hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128
        ... )
        >>> model = NucleotideTransformerForMaskedLM(config)
        >>> input_ids = torch.tensor([[3, 369, 2, 4102]])
        >>> output = model(input_ids, labels=torch.tensor([[-100, -100, 369, -100]]))
        >>> output.logits.shape, output.loss.shape
        (torch.Size([1, 4, 4107]), torch.Size([]))
    """


class NucleotideTransformerForPreTraining(NucleotideTransformerForMaskedLM):
    """The Nucleotide Transformer as it was pre-trained: masked language modelling is its only objective.

    Example:
        >>> from multimolecule import NucleotideTransformerConfig, NucleotideTransformerForPreTraining
        >>> model = NucleotideTransformerForPreTraining(NucleotideTransformerConfig(num_hidden_layers=1))
    """


class NucleotideTransformerForSequencePrediction(SequencePredictionMixin, NucleotideTransformerPreTrainedModel):
    """The Nucleotide Transformer with a sequence-level head (`config.head_pooling`: cls or mean).

    Example:
        >>> import torch
        >>> from multimolecule import NucleotideTransformerConfig, NucleotideTransformerForSequencePrediction
        >>> config = NucleotideTransformerConfig(
        ...     hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128
        ... )
        >>> model = NucleotideTransformerForSequencePrediction(config)
        >>> output = model(torch.tensor([[3, 369, 369, 4102]]), labels=torch.tensor([1]))
        >>> output.logits.shape
        torch.Size([1, 2])
    """


class NucleotideTransformerForTokenPrediction(TokenPredictionMixin, NucleotideTransformerPreTrainedModel):
    """The Nucleotide Transformer with a per-base head: a 6-mer's output is repeated for each of its six bases.

    Example:
        >>> import torch
        >>> from multimolecule import NucleotideTransformerConfig, NucleotideTransformerForTokenPrediction
        >>> config = NucleotideTransformerConfig(
        ...     hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128
        ... )
        >>> model = NucleotideTransformerForTokenPrediction(config)
        >>> output = model(torch.tensor([[3, 369, 369, 4102, 4103]]), labels=torch.randint(2, (14,)))
        >>> output.logits.shape  # two 6-mers and two single bases: 14 bases
        torch.Size([1, 14, 2])
    """


class NucleotideTransformerForContactPrediction(ContactPredictionMixin, NucleotideTransformerPreTrainedModel):
    """The Nucleotide Transformer with a base-pair head: one output per pair of bases of the text.

    Example:
        >>> import torch
        >>> from multimolecule import NucleotideTransformerConfig, NucleotideTransformerForContactPrediction
        >>> config = NucleotideTransformerConfig(
        ...     hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128
        ... )
        >>> model = NucleotideTransformerForContactPrediction(config)
        >>> output = model(torch.tensor([[3, 369, 4102]]), labels=torch.randint(2, (7, 7)))
        >>> output.logits.shape
        torch.Size([1, 7, 7, 2])
    """
