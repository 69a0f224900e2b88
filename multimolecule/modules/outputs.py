"""Output classes of the prediction models."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers.utils import ModelOutput


@dataclass
class SequencePredictorOutput(ModelOutput):
    """Sequence-level predictions.

    Args:
        loss: The loss, when `labels` are given.
        logits: (batch, num_labels).
        hidden_states: One (batch, tokens, hidden) tensor per layer and one for the embeddings, on request.
        attentions: One (batch, heads, tokens, tokens) tensor per layer, on request.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class TokenPredictorOutput(ModelOutput):
    """Base-resolution predictions: one row per base of the input text, however it was tokenized.

    Args:
        loss: The loss, when `labels` are given.
        logits: (batch, bases, num_labels); rows past a sequence's length are padding.
        base_mask: (batch, bases), True where a row is a real base.
        hidden_states: One (batch, tokens, hidden) tensor per layer and one for the embeddings, on request.
        attentions: One (batch, heads, tokens, tokens) tensor per layer, on request.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    base_mask: torch.BoolTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None


@dataclass
class ContactPredictorOutput(ModelOutput):
    """Base-pair predictions.

    Args:
        loss: The loss, when `labels` are given.
        logits: (batch, bases, bases, num_labels), symmetric in the two base axes.
        base_mask: (batch, bases), True where a row is a real base.
        hidden_states: One (batch, tokens, hidden) tensor per layer and one for the embeddings, on request.
        attentions: One (batch, heads, tokens, tokens) tensor per layer, on request.
    """

    loss: torch.FloatTensor | None = None
    logits: torch.FloatTensor | None = None
    base_mask: torch.BoolTensor | None = None
    hidden_states: tuple[torch.FloatTensor, ...] | None = None
    attentions: tuple[torch.FloatTensor, ...] | None = None
