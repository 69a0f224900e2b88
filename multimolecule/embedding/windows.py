"""Windows of long sequences and the forward passes: `WindowEmbedder` turns records into vectors.

A sequence longer than `window` tokens (`<cls>`/`<eos>` included) is cut into windows that start every `stride`
tokens; the last one ends at the sequence's end. All windows of a shard go through the model in
`token_budget_batches` (longest first, at most `max_tokens` padded tokens each). Per-base vectors are averaged
where windows overlap; the per-sequence vector is the mean of the windows' pooled vectors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import torch

from ..modules import expand_to_bases
from ..seqio import revcomp
from ..utils import InputError
from ..utils.batching import pad, token_budget_batches


@dataclass(frozen=True)
class EmbedSettings:
    """What determines the numbers of an embedding job (shards of another job's settings are never reused)."""

    model: str
    pooling: str
    per_base: bool
    reverse_complement: bool
    window: int  # tokens per window, special tokens included
    stride: int  # tokens between window starts
    max_tokens: int  # token budget of a forward pass, padding included
    max_batch_size: int | None = None  # windows per forward pass at most
    species: str | None = None  # the species of a species-conditioned model

    def metadata(self) -> dict[str, str]:
        species = {"species": self.species} if self.species is not None else {}
        return {
            "model": self.model,
            "pooling": self.pooling,
            "reverse_complement": str(self.reverse_complement).lower(),
            "window_tokens": str(self.window),
            "stride_tokens": str(self.stride),
            **species,
        }


def default_stride(body: int, per_base: bool) -> int:
    """Tokens between window starts when not given: half a window for per-base output (every base gets context
    from both sides in some window), a whole window otherwise (pooling over a sequence needs no overlap).

    Example:
        >>> default_stride(510, per_base=True), default_stride(510, per_base=False)
        (255, 510)
    """
    return max(1, body // 2) if per_base else body


def window_starts(num_tokens: int, body: int, stride: int) -> list[int]:
    """Start indices of windows of `body` tokens every `stride` tokens; the last one ends at the end.

    Example:
        >>> window_starts(10, 4, 2)
        [0, 2, 4, 6]
        >>> window_starts(10, 4, 4)
        [0, 4, 6]
        >>> window_starts(3, 4, 2)
        [0]
    """
    if num_tokens <= body:
        return [0]
    starts = list(range(0, num_tokens - body, stride))
    return starts + [num_tokens - body]


class Window(NamedTuple):
    """One window of one strand of one record: which tokens of the record it holds and what it stands for."""

    record: int  # index of the record in the list being embedded
    strand: int  # 0: the record as given, 1: its reverse complement
    first_token: int  # index of the window's first token in the strand's tokens
    first_base: int  # index of the base the window starts at, in the strand
    tokens: int  # sequence tokens in the window (special tokens not counted)
    bases: float  # the record's bases shared out among its windows, for the progress bar


@dataclass
class RecordState:
    """What has been gathered of a record so far, per strand: pooled window vectors, and for per-base output
    the running sums and counts of the per-base vectors of overlapping windows."""

    pooled: list[list[torch.Tensor]]
    sums: list[torch.Tensor] | None  # per strand: (bases, hidden)
    counts: list[torch.Tensor] | None  # per strand: (bases, 1)


class WindowEmbedder:
    """Runs the windows of a list of records through the model and hands each finished record to `sink`.

    `sink(index, embedding, per_base)` gets the record's index in the list, its (hidden,) vector and, with
    `per_base`, its (length, hidden) per-base vectors; `tick(bases)` advances a progress bar after every batch.
    `condition`: the keyword arguments of every forward pass (`species_ids` of a species-conditioned model).
    """

    def __init__(self, encoder, tokenizer, template, token_lengths, settings: EmbedSettings, condition=None):
        self.encoder, self.tokenizer, self.template = encoder, tokenizer, template
        self.token_lengths, self.settings, self.condition = token_lengths, settings, condition or {}
        self.body = settings.window - len(template[0]) - len(template[1])

    def run(self, texts: list[str], sink: Callable, tick: Callable[[float], None] | None = None) -> None:
        settings = self.settings
        strands = [texts, [revcomp(text) for text in texts]] if settings.reverse_complement else [texts]
        windows: list[Window] = []  # in record order
        ids_of = {}
        for strand, strand_texts in enumerate(strands):
            encoded = self.tokenizer(strand_texts, add_special_tokens=False)["input_ids"]
            for record, (text, ids) in enumerate(zip(strand_texts, encoded)):
                ids = torch.tensor(ids, dtype=torch.long)
                offsets = torch.cat([torch.zeros(1, dtype=torch.long), self.token_lengths[ids].cumsum(0)])
                if int(offsets[-1]) != len(text):
                    raise InputError(f"the tokenizer covers {int(offsets[-1])} of the {len(text)} bases of a sequence")
                ids_of[record, strand] = ids
                starts = window_starts(len(ids), self.body, settings.stride)
                for start in starts:
                    count = min(self.body, len(ids) - start)
                    windows.append(Window(record, strand, start, int(offsets[start]), count, len(text) / len(starts)))
        remaining = [0] * len(texts)
        for window in windows:
            remaining[window.record] += 1
        states: dict[int, RecordState] = {}
        extra = len(self.template[0]) + len(self.template[1])
        lengths = [window.tokens + extra for window in windows]
        for batch in token_budget_batches(lengths, settings.max_tokens, settings.max_batch_size):
            chosen = [windows[index] for index in batch]
            rows = [
                [
                    *self.template[0],
                    *ids_of[w.record, w.strand][w.first_token : w.first_token + w.tokens].tolist(),
                    *self.template[1],
                ]
                for w in chosen
            ]
            pooled, per_base = self.forward(rows)
            for row, window in enumerate(chosen):
                state = states.setdefault(window.record, self.empty_state(len(texts[window.record]), len(strands)))
                state.pooled[window.strand].append(pooled[row])
                if per_base is not None:
                    vectors = per_base[row]
                    covered = slice(window.first_base, window.first_base + len(vectors))
                    state.sums[window.strand][covered] += vectors
                    state.counts[window.strand][covered] += 1
                remaining[window.record] -= 1
                if remaining[window.record] == 0:
                    sink(window.record, *self.finish(states.pop(window.record)))
            if tick is not None:
                tick(sum(window.bases for window in chosen) / len(strands))

    def empty_state(self, length: int, strands: int) -> RecordState:
        hidden = self.encoder.config.hidden_size
        if not self.settings.per_base:
            return RecordState([[] for _ in range(strands)], None, None)
        sums = [torch.zeros(length, hidden) for _ in range(strands)]
        counts = [torch.zeros(length, 1) for _ in range(strands)]
        return RecordState([[] for _ in range(strands)], sums, counts)

    def finish(self, state: RecordState) -> tuple[torch.Tensor, torch.Tensor | None]:
        embedding = torch.stack([torch.stack(vectors).mean(0) for vectors in state.pooled]).mean(0)
        if not self.settings.per_base:
            return embedding, None
        strands = [sums / counts.clamp(min=1) for sums, counts in zip(state.sums, state.counts)]
        strands[1:] = [strand.flip(0) for strand in strands[1:]]  # the reverse complement, back in input order
        return embedding, torch.stack(strands).mean(0)

    @torch.no_grad()
    def forward(self, rows: list[list[int]]) -> tuple[torch.Tensor, list[torch.Tensor] | None]:
        """Pooled (batch, hidden) vectors and, with per-base output, each window's (bases, hidden) vectors."""
        input_ids, attention_mask = pad(rows, self.tokenizer.pad_token_id)
        device = self.encoder.device
        hidden = self.encoder(
            input_ids=input_ids.to(device), attention_mask=attention_mask.to(device), **self.condition
        )
        hidden = hidden.last_hidden_state.float().cpu()  # (batch, tokens, hidden)
        if self.settings.pooling == "cls":
            pooled = hidden[:, 0]
        elif self.settings.pooling == "mean-all":  # every real token, <cls> and <eos> included
            mask = attention_mask[..., None].float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        else:
            positions = torch.arange(input_ids.shape[1])[None, :]
            ends = attention_mask.sum(1, keepdim=True) - len(self.template[1])
            inner = ((positions >= len(self.template[0])) & (positions < ends))[..., None].float()  # no <cls>/<eos>
            pooled = (hidden * inner).sum(1) / inner.sum(1).clamp(min=1)
        if not self.settings.per_base:
            return pooled, None
        states, base_mask = expand_to_bases(hidden, input_ids, attention_mask, self.token_lengths)
        return pooled, [states[row, : int(base_mask[row].sum())] for row in range(len(rows))]
