"""Prediction heads shared by every model: masked LM, sequence, token (per base) and contact (base pairs).

Token and contact heads work at base resolution (`bases`): each base takes the output of the token that covers
it, plus a learned vector for the base's own nucleotide and one for its offset inside the token
(`BaseEmbeddings`), so that labels which vary inside a token can be learned.

The heads are named `classifier` in every model (as transformers and PEFT expect) and their layers have names
of their own (`projection`, `out_proj`, `query_proj`, `key_proj`), so LoRA target names of the backbone
(`query`, `key`, `value`, `dense`, DNABERT-2's `gated_layers` and `wo`) never match a head.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from transformers.activations import ACT2FN

from .bases import NUCLEOTIDES, max_token_length
from .linear import Linear


def _classifier_dropout(config) -> float:
    dropout = getattr(config, "classifier_dropout", None)
    return config.hidden_dropout if dropout is None else dropout


class MaskedLMHead(nn.Module):
    """`decoder(layer_norm(gelu(dense(x)))) + bias`: the BERT / ESM language-model head.

    Example:
        >>> from transformers import PretrainedConfig
        >>> config = PretrainedConfig(hidden_size=8, vocab_size=10, layer_norm_eps=1e-12)
        >>> MaskedLMHead(config)(torch.randn(2, 3, 8)).shape
        torch.Size([2, 3, 10])
    """

    def __init__(self, config):
        super().__init__()
        self.transform = nn.Module()
        self.transform.dense = Linear(config.hidden_size, config.hidden_size)
        self.transform.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = Linear(config.hidden_size, config.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = F.gelu(self.transform.dense(hidden_states))
        hidden_states = self.transform.layer_norm(hidden_states)
        return self.decoder(hidden_states) + self.bias

    @torch.no_grad()
    def resize_bias(self) -> None:
        """Give `bias` one entry per output of `decoder` (after the vocabulary was resized): kept entries keep
        their values, new ones start at 0, as transformers resizes a decoder's own bias."""
        num_tokens = self.decoder.out_features
        if len(self.bias) != num_tokens:
            bias = self.bias.new_zeros(num_tokens)
            kept = min(num_tokens, len(self.bias))
            bias[:kept] = self.bias[:kept]
            self.bias = nn.Parameter(bias, requires_grad=self.bias.requires_grad)


class SequencePredictionHead(nn.Module):
    """Pools a sequence (`config.head_pooling`: `"cls"`, the first real token, or `"mean"` over real tokens) and
    predicts its labels: `out_proj(tanh(projection(pooled)))`; left and right padding give the same result.

    Example:
        >>> from transformers import PretrainedConfig
        >>> config = PretrainedConfig(hidden_size=8, num_labels=3, hidden_dropout=0.0, head_pooling="mean")
        >>> SequencePredictionHead(config)(torch.randn(2, 4, 8), torch.ones(2, 4)).shape
        torch.Size([2, 3])
    """

    def __init__(self, config):
        super().__init__()
        self.pooling = getattr(config, "head_pooling", "cls")
        if self.pooling not in ("cls", "mean"):
            raise ValueError(f"head_pooling must be 'cls' or 'mean', got {self.pooling!r}")
        self.dropout = nn.Dropout(_classifier_dropout(config))
        self.projection = Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()
        self.out_proj = Linear(config.hidden_size, config.num_labels)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "cls":  # the first real token, wherever padding puts it
            first = attention_mask.to(torch.long).argmax(dim=1)  # (batch,)
            pooled = hidden_states[torch.arange(first.shape[0], device=first.device), first]  # traceable batch
        else:
            weights = attention_mask.to(hidden_states.dtype)[..., None]  # (batch, tokens, 1)
            pooled = (hidden_states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)
        pooled = self.activation(self.projection(self.dropout(pooled)))
        return self.out_proj(self.dropout(pooled))


class BaseEmbeddings(nn.Module):
    """Adds to each base's token vector a learned vector for the base's nucleotide (`NUCLEOTIDES`) and one for
    its offset inside its token; rows past a sequence's end stay zero.

    Without it, the bases of one token would all get the same vector, and per-base predictions could not vary
    inside a token. The backbone is untouched: these are new weights of the head.

    Example:
        >>> from transformers import PretrainedConfig
        >>> embeddings = BaseEmbeddings(PretrainedConfig(hidden_size=8, token_lengths=[0, 3, 1]))
        >>> nucleotides, offsets = torch.tensor([[2, 0, 3, 4]]), torch.tensor([[0, 1, 2, 0]])
        >>> embeddings(torch.zeros(1, 4, 8), nucleotides, offsets, torch.ones(1, 4, dtype=torch.bool)).shape
        torch.Size([1, 4, 8])
    """

    def __init__(self, config):
        super().__init__()
        self.nucleotide_embeddings = nn.Parameter(torch.randn(len(NUCLEOTIDES), config.hidden_size))
        self.offset_embeddings = nn.Parameter(torch.randn(max_token_length(config), config.hidden_size))

    def forward(
        self, base_states: torch.Tensor, nucleotides: torch.Tensor, offsets: torch.Tensor, base_mask: torch.Tensor
    ) -> torch.Tensor:
        """`base_states` (batch, bases, hidden); `nucleotides`, `offsets`, `base_mask` (batch, bases)."""
        embeddings = self.nucleotide_embeddings[nucleotides] + self.offset_embeddings[offsets]  # (batch, bases, hidden)
        return base_states + embeddings * base_mask[..., None].to(embeddings.dtype)


class BaseResolutionHead(nn.Module):
    """What the token and contact heads share: each base's token output plus its `BaseEmbeddings`, dropped out,
    then the head's own `predict` (per base, or per pair of bases)."""

    def __init__(self, config):
        super().__init__()
        self.base_embeddings = BaseEmbeddings(config)
        self.dropout = nn.Dropout(_classifier_dropout(config))

    def forward(
        self, base_states: torch.Tensor, nucleotides: torch.Tensor, offsets: torch.Tensor, base_mask: torch.Tensor
    ) -> torch.Tensor:
        """`base_states` (batch, bases, hidden); `nucleotides`, `offsets`, `base_mask` (batch, bases)."""
        base_states = self.dropout(self.base_embeddings(base_states, nucleotides, offsets, base_mask))
        return self.predict(base_states)

    def predict(self, base_states: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class TokenPredictionHead(BaseResolutionHead):
    """Per-base predictions: `out_proj(gelu(projection(x)))` where `x` is the base's token output plus its
    `BaseEmbeddings`.

    Example:
        >>> from transformers import PretrainedConfig
        >>> config = PretrainedConfig(hidden_size=8, num_labels=2, hidden_dropout=0.0, token_lengths=[0, 6])
        >>> nucleotides, offsets = torch.tensor([[0, 1, 2, 3, 0, 1]]), torch.arange(6)[None]
        >>> TokenPredictionHead(config)(torch.randn(1, 6, 8), nucleotides, offsets, torch.ones(1, 6).bool()).shape
        torch.Size([1, 6, 2])
    """

    def __init__(self, config):
        super().__init__(config)
        self.projection = Linear(config.hidden_size, config.hidden_size)
        self.activation = ACT2FN["gelu"]
        self.out_proj = Linear(config.hidden_size, config.num_labels)

    def predict(self, base_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.activation(self.projection(base_states))
        return self.out_proj(self.dropout(hidden_states))  # (batch, bases, num_labels)


class ContactPredictionHead(BaseResolutionHead):
    """Base-pair predictions: a symmetric bilinear form per label on projected base outputs (each base's token
    output plus its `BaseEmbeddings`).

    `logits[b, i, j, l] = <query_l(x_i), key_l(x_j)> / sqrt(d)`, averaged with its transpose, plus a bias.

    Example:
        >>> from transformers import PretrainedConfig
        >>> config = PretrainedConfig(hidden_size=8, num_labels=2, hidden_dropout=0.0, token_lengths=[0, 5])
        >>> nucleotides, offsets, mask = torch.tensor([[0, 1, 2, 3, 0]]), torch.arange(5)[None], torch.ones(1, 5)
        >>> logits = ContactPredictionHead(config)(torch.randn(1, 5, 8), nucleotides, offsets, mask.bool())
        >>> logits.shape, torch.allclose(logits, logits.transpose(1, 2))
        (torch.Size([1, 5, 5, 2]), True)
    """

    def __init__(self, config):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.head_dim = getattr(config, "contact_head_dim", 64)
        self.query_proj = Linear(config.hidden_size, config.num_labels * self.head_dim)
        self.key_proj = Linear(config.hidden_size, config.num_labels * self.head_dim)
        self.bias = nn.Parameter(torch.zeros(config.num_labels))

    def predict(self, base_states: torch.Tensor) -> torch.Tensor:
        batch_size, num_bases, _ = base_states.shape
        shape = (batch_size, num_bases, self.num_labels, self.head_dim)
        query = self.query_proj(base_states).view(shape).transpose(1, 2)  # (batch, labels, bases, head_dim)
        key = self.key_proj(base_states).view(shape).transpose(1, 2)
        logits = torch.matmul(query, key.transpose(-1, -2)) * self.head_dim**-0.5  # (batch, labels, bases, bases)
        logits = (logits + logits.transpose(-1, -2)) / 2
        return logits.permute(0, 2, 3, 1) + self.bias  # (batch, bases, bases, labels)
