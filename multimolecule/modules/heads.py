"""Prediction heads shared by every model: masked LM, sequence, token (per base) and contact (base pairs).

Token and contact heads work at base resolution. A token covers `config.token_lengths[id]` bases (a 6-mer
six, a BPE token as many as it spells, special tokens none, `<unk>` and `<mask>` one), and each base takes
the output of the token that covers it. So a 16-base text gives 16 rows however many tokens it became, and
the model expands from `input_ids` alone.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from transformers.activations import ACT2FN

PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")


def expand_to_bases(
    hidden_states: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_lengths: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Repeat each token's vector once per base it covers.

    Args:
        hidden_states: (batch, tokens, hidden).
        input_ids: (batch, tokens).
        attention_mask: (batch, tokens), 1 for tokens and 0 for padding.
        token_lengths: (vocab_size,) bases covered by each token id.

    Returns:
        `base_states` (batch, bases, hidden), zero past each sequence's end, and `base_mask` (batch, bases).

    Example:
        >>> hidden = torch.arange(3.0).view(1, 3, 1)
        >>> ids, mask, lengths = torch.tensor([[0, 1, 2]]), torch.ones(1, 3), torch.tensor([0, 3, 1])
        >>> states, base_mask = expand_to_bases(hidden, ids, mask, lengths)
        >>> states.flatten().tolist(), base_mask.tolist()
        ([1.0, 1.0, 1.0, 2.0], [[True, True, True, True]])
    """
    batch_size, seq_length, hidden_size = hidden_states.shape
    lengths = token_lengths.to(input_ids.device)[input_ids] * attention_mask.to(torch.long)  # (batch, tokens)
    bases_per_sequence = lengths.sum(dim=1)  # (batch,)
    max_bases = int(bases_per_sequence.max()) if batch_size else 0
    token_of_base = torch.repeat_interleave(
        torch.arange(batch_size * seq_length, device=input_ids.device), lengths.flatten()
    )  # (total bases,) index into the flattened tokens
    sequence_of_base = token_of_base // seq_length
    starts = bases_per_sequence.cumsum(0) - bases_per_sequence
    position_of_base = torch.arange(token_of_base.numel(), device=input_ids.device) - starts[sequence_of_base]
    base_states = hidden_states.new_zeros(batch_size, max_bases, hidden_size)
    base_states[sequence_of_base, position_of_base] = hidden_states.reshape(-1, hidden_size)[token_of_base]
    base_mask = torch.arange(max_bases, device=input_ids.device)[None, :] < bases_per_sequence[:, None]
    return base_states, base_mask


def prediction_loss(logits: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor, config) -> torch.Tensor:
    """The loss of `config.problem_type` over the positions where `mask` is True.

    `logits` is (..., num_labels) and `mask` matches its leading dimensions. Labels of -100 are ignored.
    When `config.problem_type` is unset it is inferred as transformers does: one label means regression,
    integer labels single-label classification, anything else multi-label classification.
    """
    if config.problem_type is None:
        if config.num_labels == 1:
            config.problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int, torch.int16, torch.int8, torch.uint8):
            config.problem_type = "single_label_classification"
        else:
            config.problem_type = "multi_label_classification"
    if config.problem_type not in PROBLEM_TYPES:
        raise ValueError(f"problem_type must be one of {PROBLEM_TYPES}, got {config.problem_type!r}")

    labels = labels.to(logits.device)
    if config.problem_type == "multi_label_classification":
        mask = mask & (labels != -100).all(dim=-1)
        return F.binary_cross_entropy_with_logits(logits[mask], labels[mask].to(logits.dtype))
    mask = mask & (labels != -100)
    if config.problem_type == "regression":
        predictions = logits.squeeze(-1) if config.num_labels == 1 else logits
        return F.mse_loss(predictions[mask], labels[mask].to(logits.dtype))
    return F.cross_entropy(logits[mask].view(-1, config.num_labels), labels[mask].long().view(-1))


@torch.no_grad()
def init_head_weights(module: nn.Module) -> None:
    """Zero the free-standing biases of our heads; call from a model's `_init_weights` (Linear layers are
    initialised by transformers)."""
    if isinstance(module, (MaskedLMHead, ContactPredictionHead)):
        module.bias.zero_()


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
        self.transform.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.transform.layer_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        hidden_states = F.gelu(self.transform.dense(hidden_states))
        hidden_states = self.transform.layer_norm(hidden_states)
        return self.decoder(hidden_states) + self.bias


class SequencePredictionHead(nn.Module):
    """Pools a sequence (`config.head_pooling`: `"cls"`, the first real token, or `"mean"` over real tokens) and
    predicts its labels; left and right padding give the same result.

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
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()
        self.decoder = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "cls":  # the first real token, wherever padding puts it
            first = attention_mask.to(torch.long).argmax(dim=1)  # (batch,)
            pooled = hidden_states[torch.arange(len(first), device=first.device), first]
        else:
            weights = attention_mask.to(hidden_states.dtype)[..., None]  # (batch, tokens, 1)
            pooled = (hidden_states * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1)
        pooled = self.activation(self.dense(self.dropout(pooled)))
        return self.decoder(self.dropout(pooled))


class TokenPredictionHead(nn.Module):
    """Per-base predictions: `decoder(gelu(dense(x)))` on each base's token output.

    Example:
        >>> from transformers import PretrainedConfig
        >>> config = PretrainedConfig(hidden_size=8, num_labels=2, hidden_dropout=0.0)
        >>> TokenPredictionHead(config)(torch.randn(1, 6, 8)).shape
        torch.Size([1, 6, 2])
    """

    def __init__(self, config):
        super().__init__()
        self.dropout = nn.Dropout(_classifier_dropout(config))
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = ACT2FN["gelu"]
        self.decoder = nn.Linear(config.hidden_size, config.num_labels)

    def forward(self, base_states: torch.Tensor) -> torch.Tensor:
        hidden_states = self.activation(self.dense(self.dropout(base_states)))
        return self.decoder(self.dropout(hidden_states))


class ContactPredictionHead(nn.Module):
    """Base-pair predictions: a symmetric bilinear form per label on projected base outputs.

    `logits[b, i, j, l] = <query_l(x_i), key_l(x_j)> / sqrt(d)`, averaged with its transpose, plus a bias.

    Example:
        >>> from transformers import PretrainedConfig
        >>> config = PretrainedConfig(hidden_size=8, num_labels=2, hidden_dropout=0.0)
        >>> logits = ContactPredictionHead(config)(torch.randn(1, 5, 8))
        >>> logits.shape, torch.allclose(logits, logits.transpose(1, 2))
        (torch.Size([1, 5, 5, 2]), True)
    """

    def __init__(self, config):
        super().__init__()
        self.num_labels = config.num_labels
        self.head_dim = getattr(config, "contact_head_dim", 64)
        self.dropout = nn.Dropout(_classifier_dropout(config))
        self.query = nn.Linear(config.hidden_size, config.num_labels * self.head_dim)
        self.key = nn.Linear(config.hidden_size, config.num_labels * self.head_dim)
        self.bias = nn.Parameter(torch.zeros(config.num_labels))

    def forward(self, base_states: torch.Tensor) -> torch.Tensor:
        batch_size, num_bases, _ = base_states.shape
        base_states = self.dropout(base_states)
        shape = (batch_size, num_bases, self.num_labels, self.head_dim)
        query = self.query(base_states).view(shape).transpose(1, 2)  # (batch, labels, bases, head_dim)
        key = self.key(base_states).view(shape).transpose(1, 2)
        logits = torch.matmul(query, key.transpose(-1, -2)) * self.head_dim**-0.5  # (batch, labels, bases, bases)
        logits = (logits + logits.transpose(-1, -2)) / 2
        return logits.permute(0, 2, 3, 1) + self.bias  # (batch, bases, bases, labels)
