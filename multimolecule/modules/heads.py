"""Prediction heads shared by every model: masked LM, sequence, token (per base) and contact (base pairs).

Token and contact heads work at base resolution. A token covers `config.token_lengths[id]` bases (a 6-mer
six, a BPE token as many as it spells, special tokens none, `<unk>` and `<mask>` one), and each base takes
the output of the token that covers it, plus a learned vector for the base's own nucleotide and one for its
offset inside the token (`BaseEmbeddings`), so that labels which vary inside a token can be learned. The
nucleotides come from `config.token_bases`, the bases each token id spells. So a 16-base text gives 16 rows
however many tokens it became, and the model expands from `input_ids` alone.

The heads are named `classifier` in every model (as transformers and PEFT expect) and their layers have names
of their own (`projection`, `out_proj`, `query_proj`, `key_proj`), so LoRA target names of the backbone
(`query`, `key`, `value`, `dense`, `up_proj`, `down_proj`) never match a head.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from transformers import initialization as init
from transformers.activations import ACT2FN

from .linear import Linear

PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")
# The nucleotides a base embedding knows; N also stands for any base the input does not name (<unk>, <mask>).
NUCLEOTIDES = "ACGTN"


class BaseLocations(NamedTuple):
    """Where each base of a batch comes from: its token, its offset in that token, and its row in the output.

    All but `mask` are (total bases,) tensors over the real bases of the batch, in order.
    """

    token: torch.Tensor  # index into the flattened (batch * tokens) tokens
    offset: torch.Tensor  # offset of the base inside its token, from 0
    sequence: torch.Tensor  # batch index of the base
    position: torch.Tensor  # index of the base in its sequence
    mask: torch.Tensor  # (batch, bases), True where a row is a real base


def locate_bases(input_ids: torch.Tensor, attention_mask: torch.Tensor, token_lengths: torch.Tensor) -> BaseLocations:
    """Map every base of a batch to the token that covers it.

    Args:
        input_ids: (batch, tokens).
        attention_mask: (batch, tokens), 1 for tokens and 0 for padding.
        token_lengths: (vocab_size,) bases covered by each token id.

    Example:
        >>> ids, mask, lengths = torch.tensor([[0, 1, 2]]), torch.ones(1, 3), torch.tensor([0, 3, 1])
        >>> located = locate_bases(ids, mask, lengths)
        >>> located.token.tolist(), located.offset.tolist(), located.mask.tolist()
        ([1, 1, 1, 2], [0, 1, 2, 0], [[True, True, True, True]])
    """
    batch_size, seq_length = input_ids.shape
    lengths = token_lengths.to(input_ids.device)[input_ids] * attention_mask.to(torch.long)  # (batch, tokens)
    flat_lengths = lengths.flatten()
    token = torch.repeat_interleave(torch.arange(batch_size * seq_length, device=input_ids.device), flat_lengths)
    first_base_of_token = flat_lengths.cumsum(0) - flat_lengths  # (batch * tokens,) in the flattened bases
    base_index = torch.arange(token.numel(), device=input_ids.device)
    sequence = token // seq_length
    bases_per_sequence = lengths.sum(dim=1)  # (batch,)
    first_base_of_sequence = bases_per_sequence.cumsum(0) - bases_per_sequence
    max_bases = int(bases_per_sequence.max()) if batch_size else 0
    mask = torch.arange(max_bases, device=input_ids.device)[None, :] < bases_per_sequence[:, None]
    return BaseLocations(
        token=token,
        offset=base_index - first_base_of_token[token],
        sequence=sequence,
        position=base_index - first_base_of_sequence[sequence],
        mask=mask,
    )


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
    located = locate_bases(input_ids, attention_mask, token_lengths)
    return scatter_bases(hidden_states.flatten(0, 1)[located.token], located), located.mask


def scatter_bases(values: torch.Tensor, located: BaseLocations, fill: float = 0) -> torch.Tensor:
    """(total bases, ...) values of the real bases -> (batch, bases, ...), `fill` past each sequence's end."""
    output = values.new_full((*located.mask.shape, *values.shape[1:]), fill)
    output[located.sequence, located.position] = values
    return output


@functools.lru_cache(maxsize=8)
def _nucleotide_table(token_bases: tuple[str, ...], token_lengths: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    if len(token_bases) != len(token_lengths) or any(map(lambda b, n: len(b) != n, token_bases, token_lengths)):
        raise ValueError(
            "config.token_bases does not agree with config.token_lengths: each token must spell as many bases as "
            "it covers; set both from the tokenizer (`tokenizer.token_bases`, `tokenizer.token_lengths`)"
        )
    codes = np.full(256, NUCLEOTIDES.index("N"), dtype=np.int64)
    for code, nucleotide in enumerate(NUCLEOTIDES[:4]):
        codes[ord(nucleotide)] = code
    spelled = "".join(token_bases).upper().encode("ascii", errors="replace")
    nucleotides = codes[np.frombuffer(spelled, dtype=np.uint8)]  # (sum of token lengths,)
    lengths = np.array(token_lengths, dtype=np.int64)
    return nucleotides, np.cumsum(lengths) - lengths


def base_nucleotides(
    input_ids: torch.Tensor, located: BaseLocations, token_bases: list[str], token_lengths: list[int]
) -> torch.Tensor:
    """(total bases,) index in `NUCLEOTIDES` of every base of `located`, read from the token ids.

    Example:
        >>> ids, mask, lengths = torch.tensor([[0, 1, 2]]), torch.ones(1, 3), [0, 3, 1]
        >>> located = locate_bases(ids, mask, torch.tensor(lengths))
        >>> base_nucleotides(ids, located, ["", "GAT", "N"], lengths).tolist()  # G A T N
        [2, 0, 3, 4]
    """
    nucleotides, first_base = _nucleotide_table(tuple(token_bases), tuple(token_lengths))
    nucleotides = torch.from_numpy(nucleotides).to(input_ids.device)
    first_base = torch.from_numpy(first_base).to(input_ids.device)
    return nucleotides[first_base[input_ids.flatten()[located.token]] + located.offset]


def max_token_length(config) -> int:
    """The most bases one token covers, from `config.token_lengths` (1 while it is unset)."""
    return max(getattr(config, "token_lengths", None) or [1])


def prediction_loss(
    logits: torch.Tensor,
    labels: torch.Tensor,
    mask: torch.Tensor,
    config,
    num_items_in_batch: torch.Tensor | int | None = None,
) -> torch.Tensor:
    """The loss of `config.problem_type` over the positions where `mask` is True and labels are not -100.

    `logits` is (..., num_labels) and `mask` matches its leading dimensions; labels are (...) class ids or
    single regression targets, or (..., num_labels) for multi-label or multi-output targets. The loss is summed
    over the labelled values and divided by `num_items_in_batch` when given (what `Trainer` passes: the labelled
    values of the whole accumulated batch, so gradient accumulation gives the loss of one big batch, as in
    transformers' own models), else by their number here. With no labelled value it is 0, not NaN. When
    `config.problem_type` is unset it is inferred as transformers does: one label means regression, integer
    labels single-label classification, anything else multi-label classification.

    Example:
        >>> from transformers import PretrainedConfig
        >>> config = PretrainedConfig(num_labels=2)
        >>> logits, mask = torch.zeros(1, 3, 2), torch.ones(1, 3, dtype=torch.bool)
        >>> prediction_loss(logits, torch.tensor([[1, 0, -100]]), mask, config)  # log(2)
        tensor(0.6931)
        >>> prediction_loss(logits, torch.full((1, 3), -100), mask, config)
        tensor(0.)
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
    if config.problem_type == "single_label_classification":
        labelled = mask & (labels != -100)  # (...)
        loss = F.cross_entropy(logits[labelled], labels[labelled].long(), reduction="sum")
    else:
        predictions = logits.squeeze(-1) if labels.dim() == mask.dim() else logits  # one target, or one per label
        labelled = (mask if predictions.dim() == mask.dim() else mask[..., None]) & (labels != -100)
        targets = labels[labelled].to(logits.dtype)
        if config.problem_type == "regression":
            loss = F.mse_loss(predictions[labelled], targets, reduction="sum")
        else:
            loss = F.binary_cross_entropy_with_logits(predictions[labelled], targets, reduction="sum")
    return labelled_mean(loss, labelled, num_items_in_batch)


def labelled_mean(
    loss_sum: torch.Tensor, labelled: torch.Tensor, num_items_in_batch: torch.Tensor | int | None = None
) -> torch.Tensor:
    """`loss_sum` divided by `num_items_in_batch` when given, else by the number of True values of `labelled`;
    0 when there is nothing to divide by."""
    count = labelled.sum() if num_items_in_batch is None else torch.as_tensor(num_items_in_batch)
    return loss_sum / count.to(loss_sum.device).clamp(min=1)


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
        if offsets.numel() and int(offsets.max()) >= len(self.offset_embeddings):
            raise ValueError(
                f"a token covers more bases than the {len(self.offset_embeddings)} this head was built for; "
                "set config.token_lengths and config.token_bases before creating the model"
            )
        embeddings = self.nucleotide_embeddings[nucleotides] + self.offset_embeddings[offsets]  # (batch, bases, hidden)
        return base_states + embeddings * base_mask[..., None].to(embeddings.dtype)


class TokenPredictionHead(nn.Module):
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
        super().__init__()
        self.base_embeddings = BaseEmbeddings(config)
        self.dropout = nn.Dropout(_classifier_dropout(config))
        self.projection = Linear(config.hidden_size, config.hidden_size)
        self.activation = ACT2FN["gelu"]
        self.out_proj = Linear(config.hidden_size, config.num_labels)

    def forward(
        self, base_states: torch.Tensor, nucleotides: torch.Tensor, offsets: torch.Tensor, base_mask: torch.Tensor
    ) -> torch.Tensor:
        """`base_states` (batch, bases, hidden); `nucleotides`, `offsets`, `base_mask` (batch, bases)."""
        base_states = self.base_embeddings(base_states, nucleotides, offsets, base_mask)
        hidden_states = self.activation(self.projection(self.dropout(base_states)))
        return self.out_proj(self.dropout(hidden_states))  # (batch, bases, num_labels)


class ContactPredictionHead(nn.Module):
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
        super().__init__()
        self.num_labels = config.num_labels
        self.head_dim = getattr(config, "contact_head_dim", 64)
        self.base_embeddings = BaseEmbeddings(config)
        self.dropout = nn.Dropout(_classifier_dropout(config))
        self.query_proj = Linear(config.hidden_size, config.num_labels * self.head_dim)
        self.key_proj = Linear(config.hidden_size, config.num_labels * self.head_dim)
        self.bias = nn.Parameter(torch.zeros(config.num_labels))

    def forward(
        self, base_states: torch.Tensor, nucleotides: torch.Tensor, offsets: torch.Tensor, base_mask: torch.Tensor
    ) -> torch.Tensor:
        """`base_states` (batch, bases, hidden); `nucleotides`, `offsets`, `base_mask` (batch, bases)."""
        batch_size, num_bases, _ = base_states.shape
        base_states = self.dropout(self.base_embeddings(base_states, nucleotides, offsets, base_mask))
        shape = (batch_size, num_bases, self.num_labels, self.head_dim)
        query = self.query_proj(base_states).view(shape).transpose(1, 2)  # (batch, labels, bases, head_dim)
        key = self.key_proj(base_states).view(shape).transpose(1, 2)
        logits = torch.matmul(query, key.transpose(-1, -2)) * self.head_dim**-0.5  # (batch, labels, bases, bases)
        logits = (logits + logits.transpose(-1, -2)) / 2
        return logits.permute(0, 2, 3, 1) + self.bias  # (batch, bases, bases, labels)
