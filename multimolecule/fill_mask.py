"""The engine behind `multimolecule fill-mask` and `multimolecule.api.fill_mask`: the token at each `<mask>`.

Each mask gets a window of the model's trained length centred on it; the windows go through the masked-LM model in
token-budget batches (`multimolecule.utils.batching`), and the scores are probabilities among the vocabulary's
DNA tokens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from .models import cached_model, special_template, species_condition, trained_window
from .seqio import DNA, MASK, as_records
from .utils import InputError, check_positive
from .utils.batching import default_max_tokens, map_batches, pad


def dna_token_ids(tokenizer) -> tuple[list[int], list[str]]:
    """Ids and texts of the vocabulary tokens made of A/C/G/T only, ordered by id."""
    tokens = sorted((i, t) for t, i in tokenizer.get_vocab().items() if t and set(t) <= set(DNA))
    return [i for i, _ in tokens], [t for _, t in tokens]


@torch.no_grad()
def fill_mask(
    sequences: str | Sequence[str] | Mapping[str, str],
    model: str | None = None,
    top_k: int = 5,
    device: str | None = "cpu",
    dtype: str | None = None,
    species: str | None = None,
) -> list[list[dict]]:
    """Predict the token at each `<mask>` of each sequence.

    A `<mask>` stands for one token: a BPE token for DNABERT-2 (1 to ~16 bases), a 6-mer (or single base) for
    the Nucleotide Transformer, so a filled sequence can be longer than the masked one. Scores are probabilities
    among the DNA tokens of the vocabulary (special tokens excluded). `base_probabilities` is the probability of
    the first base of the masked span: the sum over the tokens starting with each base, so the four sum to 1.
    Other masks of the same sequence are filled with their own best token. Sequences longer than the model's
    trained length are cut to a window centred on each mask.

    `sequences` is one sequence, a list of them (called `seq1`, `seq2`...) or an {id: sequence} mapping.
    `species`: the species a species-conditioned model (a post-trained NTv3) is conditioned on; it needs one, and
    any other model refuses one.
    Returns, per sequence, per mask (left to right), a dict with `id`, `sequence` (the input), `mask` (its
    index), `context` (up to `CONTEXT` bases either side of the `<mask>`), `base_probabilities` ({"A": p, "C": p,
    "G": p, "T": p}) and `predictions` (`top_k` dicts: `token`, `score`, `sequence` — the input with this mask
    filled, as plain DNA — and `context`, the same stretch as the mask's with the token in place).

    Example:
        >>> from multimolecule.api import fill_mask
        >>> result = fill_mask("ATGAAACGCATTAGCACCACCATTACC<mask>CATCACCATTACCACAGGTAACGG", top_k=3)
        >>> [len(masks) for masks in result], len(result[0][0]["predictions"])
        ([1], 3)
        >>> round(sum(result[0][0]["base_probabilities"].values()), 4)
        1.0
    """
    check_positive("top_k", top_k)
    records = as_records([sequences] if isinstance(sequences, str) else sequences, allow_mask=True)
    for name, sequence in records.items():
        if MASK not in sequence:
            raise InputError(f"sequence {name!r} has no {MASK}")
    network, tokenizer = cached_model(model, device, dtype, "fill-mask")
    condition = species_condition(network.config, species)
    prefix, suffix = special_template(tokenizer)
    body = trained_window(tokenizer, network.config) - len(prefix) - len(suffix)
    candidate_ids, candidate_tokens = dna_token_ids(tokenizer)
    candidate_index = torch.tensor(candidate_ids)
    first_base = torch.tensor([DNA.index(token[0]) for token in candidate_tokens])
    top_k = min(top_k, len(candidate_ids))

    # one item per mask: a window of tokens around it
    items, windows = [], []
    for number, sequence in enumerate(records.values()):
        ids = tokenizer(sequence, add_special_tokens=False)["input_ids"]
        positions = [i for i, token in enumerate(ids) if token == tokenizer.mask_token_id]
        for mask, position in enumerate(positions):
            start = min(max(0, position - body // 2), max(0, len(ids) - body))
            windows.append([*prefix, *ids[start : start + body], *suffix])
            items.append((number, mask, position - start + len(prefix)))

    def mask_probabilities(batch: list[tuple[list[int], int]]) -> list[torch.Tensor]:
        input_ids, attention_mask = pad([window for window, _ in batch], tokenizer.pad_token_id)
        logits = network(
            input_ids=input_ids.to(network.device), attention_mask=attention_mask.to(network.device), **condition
        )
        where = torch.tensor([position for _, position in batch])
        return list(logits.logits.float().cpu()[torch.arange(len(batch)), where][:, candidate_index].softmax(-1))

    jobs = [(window, position) for window, (_, _, position) in zip(windows, items)]
    budget = default_max_tokens(network.device)
    probabilities = map_batches(mask_probabilities, jobs, [len(window) for window in windows], budget)

    best = {(number, mask): candidate_tokens[int(p.argmax())] for (number, mask, _), p in zip(items, probabilities)}
    results: list[list[dict]] = [[] for _ in records]
    names, texts = list(records), list(records.values())
    for (number, mask, _), p in zip(items, probabilities):
        parts = texts[number].split(MASK)
        base = torch.zeros(4).index_add_(0, first_base, p)
        predictions = []
        for score, index in zip(*p.topk(top_k)):
            token = candidate_tokens[int(index)]
            fills = [token if other == mask else best[number, other] for other in range(len(parts) - 1)]
            before = "".join(part + fill for part, fill in zip(parts[:mask], fills)) + parts[mask]
            after = "".join(fill + part for fill, part in zip(fills[mask + 1 :], parts[mask + 2 :]))
            after = parts[mask + 1] + after
            predictions.append(
                {
                    "token": token,
                    "score": float(score),
                    "sequence": before + token + after,
                    "context": context(before, token, after),
                }
            )
        results[number].append(
            {
                "id": names[number],
                "sequence": texts[number],
                "mask": mask,
                "context": context(parts[mask], MASK, parts[mask + 1]),
                "base_probabilities": {b: float(base[i]) for i, b in enumerate(DNA)},
                "predictions": predictions,
            }
        )
    return results


CONTEXT = 30  # bases shown either side of a mask


def context(before: str, middle: str, after: str) -> str:
    """`middle` with up to `CONTEXT` characters of `before` and `after`; `...` marks what was cut.

    Example:
        >>> context("A" * 40, "<mask>", "CG")
        '...AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA<mask>CG'
    """
    left = before[-CONTEXT:] if len(before) <= CONTEXT else "..." + before[-CONTEXT:]
    right = after[:CONTEXT] if len(after) <= CONTEXT else after[:CONTEXT] + "..."
    return left + middle + right
