"""What every multimolecule model shares: the `PreTrainedModel` base and the encoder's layer loop.

A backbone (`<Name>Model`) holds `self.embeddings` (with `word_embeddings`) and `self.encoder`, a
`MultiMoleculeEncoder`; its forward calls `embed_and_encode`. The encoder picks the attention kernel
(`select_attention_kernel`), packs the batch if the kernel takes a packed one, runs the layers collecting hidden
states and attention weights, and pads the outputs back. A model's encoder adds only what is its own: an ALiBi
bias (`alibi_slopes`, `attention_bias`), rotary positions (`position_embeddings`), a final LayerNorm.
"""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from functools import partial

import torch
from torch import nn
from transformers import PretrainedConfig, PreTrainedModel
from transformers.modeling_outputs import BaseModelOutput

from ..integrations.transformers import LoadingStages, RuntimeAttentionSwitch
from ..modules import ExpectedDifferencesMixin, init_head_weights, padding_bias, resolve_attention_mask
from ..modules.attention import select_attention_kernel
from ..modules.packing import PackedBatch
from . import loading_utils
from .configuration_utils import MultiMoleculeConfig


class MultiMoleculeEncoder(nn.Module):
    """The layers of an encoder, on a packed batch or on the padded one.

    The kernel, chosen once per forward by `select_attention_kernel`, decides the layout. Packed: padding is never
    computed on, attention runs within each sequence, rotary positions restart at 0 in each, and every output is
    padded back with zeros at padding. Padded (eager attention, attention weights asked for, or the model traced
    by `torch.compile` or `torch.export`): the layers see the whole batch and the additive bias of
    `attention_bias`, as the original implementations compute it.

    Each layer is called as `layer(hidden_states, attention_kernel=..., attention_bias=...,
    position_embeddings=..., packed_batch=...) -> (hidden_states, attention_weights)`. With `final_layer_norm`,
    the last entry of `hidden_states` is the output after it (the Nucleotide Transformer's convention).

    Example:
        >>> from multimolecule import DnaBert2Config, DnaBert2Model
        >>> config = DnaBert2Config(num_hidden_layers=2, hidden_size=32, num_attention_heads=2)
        >>> encoder = DnaBert2Model(config).encoder
        >>> mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
        >>> output = encoder(torch.randn(2, 5, 32), mask, output_hidden_states=True)
        >>> output.last_hidden_state.shape, len(output.hidden_states)
        (torch.Size([2, 5, 32]), 3)
        >>> output.last_hidden_state[1, 3:].abs().max().item()  # zeros at padding
        0.0
    """

    alibi_slopes: list[float] | None = None  # per-head ALiBi slopes, for models with ALiBi attention biases

    def __init__(self, config: MultiMoleculeConfig, layer_class: type[nn.Module], final_layer_norm: bool = False):
        super().__init__()
        self.config = config
        self.layer = nn.ModuleList([layer_class(config) for _ in range(config.num_hidden_layers)])
        self.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps) if final_layer_norm else None

    def attention_bias(self, attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """The additive bias of the padded path: padding only, (batch, 1, 1, length)."""
        return padding_bias(attention_mask, dtype)

    def position_embeddings(self, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
        """What the layers rotate queries and keys by, for `position_ids` (1, tokens); None without rotary."""
        return None

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
    ) -> BaseModelOutput:
        """`hidden_states` (batch, length, hidden) and `attention_mask` (batch, length) -> padded outputs."""
        kernel = select_attention_kernel(
            self.config._attn_implementation,
            device=hidden_states.device,
            dtype=hidden_states.dtype,
            dropout=self.training and self.config.attention_dropout > 0,
            output_attentions=output_attentions,
            alibi=self.alibi_slopes is not None,
        )
        attention_bias, packed_batch = None, None
        if kernel.packed:
            packed_batch = PackedBatch.from_attention_mask(
                attention_mask, alibi_slopes=self.alibi_slopes, query_chunk_size=self.config.query_chunk_size
            )
            hidden_states = packed_batch.pack(hidden_states)  # (1, total_tokens, hidden)
            position_ids = packed_batch.position_ids  # (1, total_tokens)
        else:
            attention_bias = self.attention_bias(attention_mask, hidden_states.dtype)
            position_ids = torch.arange(hidden_states.shape[1], device=hidden_states.device)[None]  # <cls> at 0
        position_embeddings = self.position_embeddings(position_ids)

        all_hidden_states = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer in self.layer:
            hidden_states, weights = layer(
                hidden_states,
                attention_kernel=kernel,
                attention_bias=attention_bias,
                position_embeddings=position_embeddings,
                packed_batch=packed_batch,
            )
            if output_hidden_states:
                all_hidden_states += (hidden_states,)
            if output_attentions:
                all_attentions += (weights,)
        if self.layer_norm is not None:
            hidden_states = self.layer_norm(hidden_states)
            if output_hidden_states:
                all_hidden_states = all_hidden_states[:-1] + (hidden_states,)

        if packed_batch is not None:
            hidden_states = packed_batch.unpack(hidden_states)  # (batch, length, hidden), zeros at padding
            if output_hidden_states:
                all_hidden_states = tuple(packed_batch.unpack(states) for states in all_hidden_states)
        return BaseModelOutput(
            last_hidden_state=hidden_states, hidden_states=all_hidden_states, attentions=all_attentions
        )


class MultiMoleculePreTrainedModel(ExpectedDifferencesMixin, LoadingStages, RuntimeAttentionSwitch, PreTrainedModel):
    """The base of every multimolecule model: weight initialisation (heads included), the embedding accessors
    (transformers' own, finding `embeddings.word_embeddings`), the attention backends, the backbone's forward
    prologue `embed_and_encode`, and one line for the checkpoint differences a class declares as expected
    (`ExpectedDifferencesMixin`).

    `attn_implementation` may be `"sdpa"` (the default), `"eager"`, `"flex_attention"`, `"flash_attention_2"`, or
    any name with a packed kernel in `multimolecule.modules.attention.PackedAttentionInterface`;
    `set_attn_implementation` switches it at run time, from the next forward on.

    Example:
        >>> from multimolecule import DnaBert2Config, DnaBert2ForMaskedLM
        >>> model = DnaBert2ForMaskedLM(DnaBert2Config(num_hidden_layers=1))
        >>> model.get_input_embeddings() is model.model.embeddings.word_embeddings
        True
    """

    config_class = MultiMoleculeConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_flex_attn = True  # the packed kernel in modules/flex_attention.py
    # flash-attn 2's varlen kernel takes ALiBi slopes: transformers falls back to it if another version is asked for
    _compatible_flash_implementations = ["flash_attention_2"]
    _input_embed_layer = "word_embeddings"
    # Tensor names that checkpoints saved by earlier versions of the package use -> today's:
    # (regular expression, replacement) pairs, searched anywhere in a name and applied while any checkpoint loads.
    # Never reversed: `save_pretrained` writes today's names.
    _renamed_weights: tuple[tuple[str, str], ...] = ()

    @torch.no_grad()
    def _init_weights(self, module: nn.Module):
        super()._init_weights(module)
        init_head_weights(module)

    def resize_token_embeddings(self, *args, **kwargs) -> nn.Embedding:
        """transformers' `resize_token_embeddings`, which also gives `config.token_bases` (and `token_lengths`) one
        entry per token id, so the base-resolution heads take the new ids: they spell no base until
        `model.config.token_bases = tokenizer.token_bases` says which bases they spell."""
        embeddings = super().resize_token_embeddings(*args, **kwargs)
        self.config.fit_token_bases(embeddings.num_embeddings)
        return embeddings

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *model_args, config=None, **kwargs):
        """transformers' `from_pretrained`, which also takes a bundled demo name, a `Checkpoint` already resolved and
        a checkpoint in its original layout (by Hub id or directory; see `loading_utils`), and refuses checkpoints
        that would load silently wrong. The checkpoint is resolved once and handed to the config, which the weight
        loading reads it from."""
        if pretrained_model_name_or_path is None:
            return super().from_pretrained(None, *model_args, config=config, **kwargs)
        checkpoint = loading_utils.Checkpoint.resolve(pretrained_model_name_or_path, kwargs)
        loading_utils.layout_for(cls.config_class.model_type, checkpoint)  # refuses another family
        if isinstance(config, PretrainedConfig):
            config = copy.deepcopy(config)
            config.checkpoint = checkpoint
        config = config if config is not None else checkpoint  # the config is read from the checkpoint resolved here
        with checkpoint.naming_damaged_files():
            output = super().from_pretrained(checkpoint.path, *model_args, config=config, **kwargs)
        model = output[0] if isinstance(output, tuple) else output
        vars(model.config).pop("checkpoint", None)  # a fact of this load, not of the model
        return output

    def prepare_weight_loading(self, checkpoint_files: list[str] | None, load_config):
        """Check that the weights files are readable; map an original layout, or the names of an earlier version
        (`_renamed_weights`), onto ours while loading."""
        load_config = loading_utils.weight_conversions(self, checkpoint_files, load_config)
        if not self._renamed_weights:
            return load_config
        renaming = loading_utils.FunctionRenaming(partial(renamed_weight, self._renamed_weights))
        return replace(load_config, weight_mapping=[*(load_config.weight_mapping or []), renaming])

    def check_loaded_weights(self, loading_info, ignore_mismatched_sizes: bool) -> None:
        """Refuse what would load silently wrong (see `loading_utils.check_loading`)."""
        loading_utils.check_loading(self, loading_info, ignore_mismatched_sizes)

    def embed_and_encode(
        self,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
        output_attentions: bool | None,
        output_hidden_states: bool | None,
        **embedding_inputs,
    ) -> BaseModelOutput:
        """The backbone's forward: check the inputs, derive the mask from the pad id when omitted, embed, encode.

        `embedding_inputs` go to `self.embeddings(input_ids, attention_mask, inputs_embeds, **embedding_inputs)`.
        """
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("give exactly one of input_ids and inputs_embeds")
        output_attentions = output_attentions if output_attentions is not None else self.config.output_attentions
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        attention_mask = resolve_attention_mask(input_ids, attention_mask, inputs_embeds, self.config.pad_token_id)
        embeddings = self.embeddings(input_ids, attention_mask, inputs_embeds, **embedding_inputs)
        return self.encoder(embeddings, attention_mask, output_attentions, output_hidden_states)


def renamed_weight(renames: tuple[tuple[str, str], ...], name: str) -> str | None:
    """`name` under today's module names when `renames` (a class's `_renamed_weights`) knows it, else None.

    Example:
        >>> from multimolecule import NucleotideTransformerModel
        >>> renamed_weight(NucleotideTransformerModel._renamed_weights, "model.encoder.layer.3.mlp.up_proj.weight")
        'model.encoder.layer.3.intermediate.dense.weight'
        >>> renamed_weight(NucleotideTransformerModel._renamed_weights, "encoder.layer.3.output.dense.weight") is None
        True
    """
    for pattern, replacement in renames:
        new_name, count = re.subn(pattern, replacement, name, count=1)
        if count:
            return new_name
    return None
