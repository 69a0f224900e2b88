"""Initialisation of the head weights that transformers' `_init_weights` does not know."""

from __future__ import annotations

import torch
from torch import nn
from transformers import initialization as init

from .heads import BaseEmbeddings, ContactPredictionHead, MaskedLMHead


@torch.no_grad()
def init_head_weights(module: nn.Module) -> None:
    """Initialise what transformers' `_init_weights` does not know: zero the free-standing biases of our heads,
    and draw the base embeddings at the scale of the backbone's layer-normed outputs (standard deviation 1), so
    that a base's nucleotide is as visible to a new head as its token. Call from a model's `_init_weights`."""
    if isinstance(module, (MaskedLMHead, ContactPredictionHead)):
        init.zeros_(module.bias)
    if isinstance(module, BaseEmbeddings):
        init.normal_(module.nucleotide_embeddings, std=1.0)
        init.normal_(module.offset_embeddings, std=1.0)
