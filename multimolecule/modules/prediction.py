"""The prediction models, shared by every backbone: their `__init__` and forward passes.

A model class mixes one of these in front of its `PreTrainedModel`, which provides `build_backbone(config)`.
The backbone is `self.model`; the head is `self.lm_head` (masked LM) or `self.classifier` (sequence, token and
contact heads: the name transformers' own models and PEFT's `SEQ_CLS`/`TOKEN_CLS` tasks expect, so LoRA keeps
the new head trainable and saves it); both are plain attributes set in `__init__`.

Every forward takes `num_items_in_batch`, which `Trainer` passes: the loss is then summed and divided by it, so
that gradient accumulation and several processes give the loss of one big batch. Other keywords go to the
backbone.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from transformers.modeling_outputs import MaskedLMOutput
from transformers.utils import can_return_tuple

from .bases import base_nucleotides, locate_base_slots, locate_bases, max_token_length, scatter_bases
from .heads import ContactPredictionHead, MaskedLMHead, SequencePredictionHead, TokenPredictionHead
from .losses import labelled_mean, prediction_loss
from .outputs import ContactPredictorOutput, SequencePredictorOutput, TokenPredictorOutput
from .packing import is_tracing


def resolve_attention_mask(
    input_ids: torch.Tensor | None,
    attention_mask: torch.Tensor | None,
    inputs_embeds: torch.Tensor | None,
    pad_token_id: int | None,
) -> torch.Tensor:
    """The given mask, or one derived from the pad id (or all ones for `inputs_embeds`), shape (batch, tokens)."""
    if attention_mask is not None:
        return attention_mask
    if input_ids is not None:
        if pad_token_id is None:
            return torch.ones_like(input_ids)
        return (input_ids != pad_token_id).long()
    if inputs_embeds is None:
        raise ValueError("give input_ids or inputs_embeds")
    return torch.ones(inputs_embeds.shape[:2], dtype=torch.long, device=inputs_embeds.device)


class PredictionModelMixin:
    """What every prediction model shares: the loss honours `Trainer`'s `num_items_in_batch`."""

    accepts_loss_kwargs = True


class MaskedLMMixin(PredictionModelMixin):
    """`...ForMaskedLM`: `MaskedLMHead` in `self.lm_head`, its decoder tied to the word embeddings when
    `config.tie_word_embeddings`.

    With `config.sparse_prediction` and `labels`, the head runs only at the labelled (masked) positions, as in
    ModernBERT and the original DNABERT-2 pre-training, and `logits` are (labelled positions, vocab_size).
    """

    _tied_weights_keys = {"lm_head.decoder.weight": "model.embeddings.word_embeddings.weight"}

    def __init__(self, config):
        super().__init__(config)
        self.model = self.build_backbone(config)
        self.lm_head = MaskedLMHead(config)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head.decoder

    def set_output_embeddings(self, new_embeddings: nn.Linear):
        self.lm_head.decoder = new_embeddings

    def resize_token_embeddings(self, *args, **kwargs) -> nn.Embedding:
        """transformers' `resize_token_embeddings`, which also resizes the head's own `bias`."""
        embeddings = super().resize_token_embeddings(*args, **kwargs)
        self.lm_head.resize_bias()
        return embeddings

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
        **kwargs,
    ) -> MaskedLMOutput:
        r"""
        labels: (batch, length) ids of the original tokens at masked positions, -100 elsewhere.
        num_items_in_batch: Labels in the whole (accumulated) batch, to divide the summed loss by; `Trainer`
            passes it.
        """
        outputs = self.model(
            input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds, return_dict=True, **kwargs
        )
        hidden_states = outputs.last_hidden_state  # (batch, length, hidden)
        if labels is not None:
            labels = labels.to(hidden_states.device)
            if self.config.sparse_prediction:
                labelled = labels != -100
                hidden_states, labels = hidden_states[labelled], labels[labelled]  # (labelled, hidden), (labelled,)
        logits = self.lm_head(hidden_states)  # (batch, length, vocab_size), or (labelled, vocab_size)
        loss = None
        if labels is not None:
            labelled = labels != -100
            loss_sum = F.cross_entropy(logits[labelled], labels[labelled], reduction="sum")
            loss = labelled_mean(loss_sum, labelled, num_items_in_batch)
        return MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


# Loading a prediction model from a masked-LM or pre-training checkpoint drops `lm_head` and creates the head.
FROM_MASKED_LM = [r"^lm_head\."]


class ClassifierMixin(PredictionModelMixin):
    """The sequence, token and contact models: the backbone in `self.model`, the new head in `self.classifier`
    (built by `classifier_class`)."""

    classifier_class: type[nn.Module]
    _keys_to_ignore_on_load_unexpected = FROM_MASKED_LM
    _keys_to_ignore_on_load_missing = [r"^classifier\."]

    def __init__(self, config):
        super().__init__(config)
        self.model = self.build_backbone(config)
        self.classifier = self.classifier_class(config)
        self.post_init()


class SequencePredictionMixin(ClassifierMixin):
    """`...ForSequencePrediction`: `SequencePredictionHead` in `self.classifier`."""

    classifier_class = SequencePredictionHead

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
        **kwargs,
    ) -> SequencePredictorOutput:
        r"""
        labels: (batch,) class ids, (batch, num_labels) multi-label targets, or (batch,) / (batch, num_labels)
            regression targets, as `config.problem_type` says; -100 marks a missing label.
        num_items_in_batch: Labels in the whole (accumulated) batch, to divide the summed loss by; `Trainer`
            passes it.
        """
        attention_mask = resolve_attention_mask(input_ids, attention_mask, inputs_embeds, self.config.pad_token_id)
        outputs = self.model(
            input_ids, attention_mask=attention_mask, inputs_embeds=inputs_embeds, return_dict=True, **kwargs
        )
        logits = self.classifier(outputs.last_hidden_state, attention_mask)  # (batch, num_labels)
        loss = None
        if labels is not None:
            if self.config.num_labels == 1:
                labels = labels.reshape(-1)
            mask = torch.ones(logits.shape[0], dtype=torch.bool, device=logits.device)
            loss = prediction_loss(logits, labels, mask, self.config, num_items_in_batch)
        return SequencePredictorOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


class BaseResolutionMixin(ClassifierMixin):
    """The token and contact models: the backbone's outputs mapped to bases (`multimolecule.modules.bases`), one
    prediction per base (`pairs = False`, a `TokenPredictorOutput`) or per pair of bases (`pairs = True`, a
    `ContactPredictorOutput`)."""

    output_class: type[TokenPredictorOutput] | type[ContactPredictorOutput]
    pairs: bool

    @can_return_tuple
    def forward(
        self,
        input_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        num_items_in_batch: torch.Tensor | int | None = None,
        **kwargs,
    ) -> TokenPredictorOutput | ContactPredictorOutput:
        r"""
        labels: One label per base of the text, `(bases,)` or `(batch, bases)`, or for a contact model one per
            pair of bases, `(bases, bases)` or `(batch, bases, bases)`; padded with -100.
        num_items_in_batch: Labels in the whole (accumulated) batch, to divide the summed loss by; `Trainer`
            passes it.
        """
        outputs, head_inputs = self._base_inputs(input_ids, attention_mask, inputs_embeds, kwargs)
        base_mask = head_inputs[-1]  # (batch, bases)
        logits = self.classifier(*head_inputs)  # (batch, bases, num_labels), or (batch, bases, bases, num_labels)
        loss = None
        if labels is not None:
            labels = self._batched_labels(labels, base_mask, pair=self.pairs)
            mask = base_mask[:, :, None] & base_mask[:, None, :] if self.pairs else base_mask
            loss = prediction_loss(logits, labels, mask, self.config, num_items_in_batch)
        return self.output_class(
            loss=loss,
            logits=logits,
            base_mask=base_mask,
            hidden_states=outputs.hidden_states,
            attentions=outputs.attentions,
        )

    def _base_inputs(
        self,
        input_ids: torch.Tensor | None,
        attention_mask: torch.Tensor | None,
        inputs_embeds: torch.Tensor | None,
        kwargs: dict,
    ) -> tuple[object, tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Run the backbone (on `inputs_embeds` when given, else on `input_ids`); return its outputs and the head's
        inputs at base resolution: `base_states` (batch, bases, hidden), each base's token output, and
        `nucleotides`, `offsets`, `base_mask` (batch, bases).
        """
        if input_ids is None:
            raise ValueError(
                "base-resolution heads need input_ids (also with inputs_embeds), to know how many bases each "
                "token covers"
            )
        if self.config.token_lengths is None:
            raise ValueError(
                "config.token_lengths is not set, so tokens cannot be mapped to bases; "
                "set it with `model.config.token_lengths = tokenizer.token_lengths`"
            )
        if getattr(self.config, "token_bases", None) is None:
            raise ValueError(
                "config.token_bases is not set, so the bases of each token are unknown; "
                "set it with `model.config.token_bases = tokenizer.token_bases`"
            )
        attention_mask = resolve_attention_mask(input_ids, attention_mask, None, self.config.pad_token_id)
        outputs = self.model(
            input_ids if inputs_embeds is None else None,
            attention_mask=attention_mask,
            inputs_embeds=inputs_embeds,
            return_dict=True,
            **kwargs,
        )
        longest_token = max_token_length(self.config)
        if longest_token > len(self.classifier.base_embeddings.offset_embeddings):
            raise ValueError(
                f"a token covers {longest_token} bases, more than the "
                f"{len(self.classifier.base_embeddings.offset_embeddings)} this head was built for; "
                "set config.token_lengths and config.token_bases before creating the model"
            )
        token_lengths = torch.tensor(self.config.token_lengths, device=input_ids.device)
        if is_tracing():  # torch.export, torch.compile: tokens * longest_token rows, whatever the ids say
            located = locate_base_slots(input_ids, attention_mask, token_lengths, longest_token)
        else:
            located = locate_bases(input_ids, attention_mask, token_lengths)
        base_states = scatter_bases(outputs.last_hidden_state.flatten(0, 1)[located.token], located)
        nucleotides = base_nucleotides(input_ids, located, self.config.token_bases, self.config.token_lengths)
        return outputs, (
            base_states,
            scatter_bases(nucleotides, located),
            scatter_bases(located.offset, located),
            located.mask,
        )

    def _batched_labels(self, labels: torch.Tensor, base_mask: torch.Tensor, pair: bool) -> torch.Tensor:
        """Accept labels without the batch axis for a single sequence, and check they cover every base; labels
        padded with -100 beyond the longest sequence (to one size for every batch) are cut to it."""
        batch_size, num_bases = base_mask.shape
        base_dims = 2 if pair else 1
        label_dims = base_dims + (self.config.problem_type == "multi_label_classification")
        if labels.dim() == label_dims:
            labels = labels.unsqueeze(0)
        expected = (batch_size,) + (num_bases,) * base_dims
        if tuple(labels.shape[: 1 + base_dims]) == expected:
            return labels
        if is_tracing():  # the traced rows (`locate_base_slots`) run past the bases: pad the labels to them
            padding = [0, 0] * (labels.dim() - 1 - base_dims) + [0, num_bases - labels.shape[1]] * base_dims
            return F.pad(labels, padding, value=-100)
        bases = (slice(None),) + (slice(0, num_bases),) * base_dims
        padded_further = labels.shape[0] == batch_size and min(labels.shape[1 : 1 + base_dims]) >= num_bases
        if padded_further and (labels != -100).sum() == (labels[bases] != -100).sum():  # only -100 beyond the bases
            return labels[bases]
        raise ValueError(
            f"labels of shape {tuple(labels.shape)} do not match the input, which has {num_bases} bases "
            f"(longest sequence) in a batch of {batch_size}: expected {expected}, padded with -100 "
            "(padded further, they must hold only -100 there)"
        )


class TokenPredictionMixin(BaseResolutionMixin):
    """`...ForTokenPrediction`: `TokenPredictionHead` in `self.classifier`, one prediction per base."""

    classifier_class = TokenPredictionHead
    output_class = TokenPredictorOutput
    pairs = False


class ContactPredictionMixin(BaseResolutionMixin):
    """`...ForContactPrediction`: `ContactPredictionHead` in `self.classifier`, one prediction per pair of bases."""

    classifier_class = ContactPredictionHead
    output_class = ContactPredictorOutput
    pairs = True
