"""BERT masking for DNA, as the DNABERT-2 and Nucleotide Transformer cards describe it: 15% of the tokens are
chosen; of those, 80% become `<mask>`, 10% a random different DNA token, 10% stay as they are.

A token is one unit of prediction for both families: DNABERT-2's BPE tokens and the Nucleotide Transformer's
non-overlapping 6-mers each stand for whole, disjoint stretches of bases, so masking a token masks whole k-mers
and nothing of a masked k-mer leaks through a neighbour. (Whole-k-mer masking, which masks runs of *overlapping*
k-mers together, is needed only by overlapping k-mer tokenizers such as the first DNABERT's; neither family here
uses one.) Special tokens, padding and `N` are never chosen.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..training.collator import IGNORE_INDEX, pad_labels


def dna_token_ids(tokenizer) -> torch.Tensor:
    """Ids of the vocabulary tokens made only of A/C/G/T, sorted: what may be masked and drawn at random."""
    return torch.tensor(sorted(i for t, i in tokenizer.get_vocab().items() if t and set(t) <= set("ACGT")))


def mask_tokens(
    input_ids: torch.Tensor,
    candidates: torch.Tensor,
    mask_token_id: int,
    probability: float,
    generator: torch.Generator | None = None,
    replace_all: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, labels): `probability` of the DNA tokens of `input_ids` chosen (labels keep their ids, -100
    elsewhere); 80% of the chosen become `mask_token_id`, 10% a random other id of `candidates`, 10% stay.
    With `replace_all`, every chosen token becomes `<mask>` (for evaluation).

    Example:
        >>> ids = torch.tensor([[1, 5, 6, 7, 8, 2]])
        >>> inputs, labels = mask_tokens(ids, torch.tensor([5, 6, 7, 8]), 4, 0.999, replace_all=True)
        >>> inputs.tolist(), labels.tolist()
        ([[1, 4, 4, 4, 4, 2]], [[-100, 5, 6, 7, 8, -100]])
    """
    maskable = torch.isin(input_ids, candidates)
    chosen = (torch.rand(input_ids.shape, generator=generator) < probability) & maskable
    labels = torch.where(chosen, input_ids, IGNORE_INDEX)
    draw = torch.rand(input_ids.shape, generator=generator)
    to_mask = chosen & ((draw < 0.8) | replace_all)
    to_random = chosen & ~to_mask & (draw < 0.9)
    # a random token different from the original: its index among the candidates shifted by 1..n-1
    position = torch.searchsorted(candidates, input_ids).clamp(max=len(candidates) - 1)
    shift = torch.randint(1, max(2, len(candidates)), input_ids.shape, generator=generator)
    random_tokens = candidates[(position + shift) % len(candidates)]
    inputs = torch.where(to_mask, mask_token_id, input_ids)
    inputs = torch.where(to_random, random_tokens, inputs)
    return inputs, labels


@dataclass
class DataCollatorForMaskedDNA:
    """Pad windows with the tokenizer and mask them (`mask_tokens`, with torch's global random state, which
    `Trainer` seeds). Examples that already carry `labels` (windows masked as they stream, `MaskedWindows`:
    what `pretrain` trains and evaluates on) are only padded.

    Example:
        >>> from multimolecule import NucleotideTransformerTokenizer
        >>> tokenizer = NucleotideTransformerTokenizer.standard()
        >>> collator = DataCollatorForMaskedDNA(tokenizer, mask_probability=0.5)
        >>> batch = collator([tokenizer("ACGTAC" * 20), tokenizer("ACGTAC" * 10)])
        >>> batch["input_ids"].shape, batch["labels"].shape
        (torch.Size([2, 21]), torch.Size([2, 21]))
    """

    tokenizer: object
    mask_probability: float = 0.15
    pad_to_multiple_of: int | None = None

    def __post_init__(self):
        self.candidates = dna_token_ids(self.tokenizer)

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        labels = [feature["labels"] for feature in features] if "labels" in features[0] else None
        inputs = [{"input_ids": feature["input_ids"]} for feature in features]
        batch = dict(self.tokenizer.pad(inputs, pad_to_multiple_of=self.pad_to_multiple_of, return_tensors="pt"))
        if labels is not None:
            batch["labels"] = pad_labels(labels)[:, : batch["input_ids"].shape[1]]
        else:
            batch["input_ids"], batch["labels"] = mask_tokens(
                batch["input_ids"], self.candidates, self.tokenizer.mask_token_id, self.mask_probability
            )
        return batch


class MaskedWindows(torch.utils.data.IterableDataset):
    """Windows masked as they stream, each by a generator of its own (seeded by `seed`, the pass and the window's
    number), never by the global random state: the masks of a window do not depend on what ran before it, so a run
    resumed mid-way (`Trainer` skips the batches already seen) masks the rest exactly as the uninterrupted run.

    Held-out windows (`replace_all=True`, every chosen token as `<mask>`) are masked the same at every evaluation;
    training windows get new masks at each pass (`set_epoch`, which `Trainer` calls, passed on to `windows`).
    """

    def __init__(self, windows, tokenizer, mask_probability: float, seed: int, replace_all: bool = True):
        self.windows, self.seed, self.replace_all = windows, seed, replace_all
        self.candidates, self.mask_token_id = dna_token_ids(tokenizer), tokenizer.mask_token_id
        self.mask_probability = mask_probability

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.windows, "set_epoch"):
            self.windows.set_epoch(epoch)

    def __iter__(self):
        epoch = getattr(self.windows, "epoch", 0) if not self.replace_all else 0
        for number, window in enumerate(self.windows):
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + number + epoch * 2**32)
            ids = torch.tensor([window["input_ids"]])
            inputs, labels = mask_tokens(
                ids, self.candidates, self.mask_token_id, self.mask_probability, generator, self.replace_all
            )
            yield {"input_ids": inputs[0].tolist(), "labels": labels[0].tolist()}
