"""Shared pieces of the variant tests: a genome of real E. coli DNA (the bundled example), independent scorers."""

from __future__ import annotations

import math
from pathlib import Path

import torch

from multimolecule import api
from multimolecule.demo import EXAMPLE_FASTA
from multimolecule.seqio import DNA, read_sequences, revcomp
from multimolecule.variants import ModelContext, Scorer


def example_genome() -> dict[str, str]:
    """The four E. coli stretches of the bundled example FASTA (150, 400, 1,000 and 3,000 bp) as chrA..chrD."""
    return {f"chr{'ABCD'[i]}": sequence for i, sequence in enumerate(read_sequences(EXAMPLE_FASTA).values())}


def write_fasta(path: Path, records: dict[str, str], width: int = 60) -> Path:
    lines = []
    for name, sequence in records.items():
        lines.append(f">{name}")
        lines += [sequence[i : i + width] for i in range(0, len(sequence), width)]
    path.write_text("\n".join(lines) + "\n")
    return path


def write_tsv(path: Path, rows: list[tuple]) -> Path:
    path.write_text("chrom\tpos\tref\talt\n" + "".join("\t".join(map(str, row)) + "\n" for row in rows))
    return path


def reverse_genome(records: dict[str, str]) -> dict[str, str]:
    return {name: revcomp(sequence) for name, sequence in records.items()}


def scorer(model: str, scores, network=None, **options) -> Scorer:
    """A `Scorer` of a demo model (or of `network`, loaded otherwise, with the demo's tokenizer)."""
    loaded, tokenizer = api.load_model(model)
    network = network or loaded
    template = api.special_template(tokenizer)
    window = api.trained_window(tokenizer, network.config)
    context = ModelContext(network, tokenizer, template, window, api.token_lengths(network, tokenizer))
    return Scorer(context, scores, **options)


# ---------------------------------------------------------------------------- independent computations
def dna_vocabulary(tokenizer) -> tuple[list[int], list[str]]:
    pairs = sorted((i, t) for t, i in tokenizer.get_vocab().items() if t and all(b in DNA for b in t))
    return [i for i, _ in pairs], [t for _, t in pairs]


def token_spans(tokenizer, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    """The ids of `text` and each token's (start, end) in it, from the token strings."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    spans, start = [], 0
    for token in tokenizer.convert_ids_to_tokens(ids):
        spans.append((start, start + len(token)))
        start += len(token)
    assert start == len(text)
    return ids, spans


@torch.no_grad()
def masked_log_probs(model: str, text: str, masked: list[int]) -> tuple[list[str], torch.Tensor]:
    """(DNA token strings, (masked tokens, DNA tokens) log-probabilities) with the tokens `masked` all masked."""
    network, tokenizer = api.load_model(model)
    ids, _ = token_spans(tokenizer, text)
    row = tokenizer(text)["input_ids"]  # with the special tokens
    assert row[0] == tokenizer.cls_token_id and row[1 : 1 + len(ids)] == ids
    first = 1  # both families put one <cls> first
    for i in masked:
        row[first + i] = tokenizer.mask_token_id
    logits = network(input_ids=torch.tensor([row])).logits[0].double()
    candidate_ids, candidate_texts = dna_vocabulary(tokenizer)
    return candidate_texts, logits[[first + i for i in masked]][:, candidate_ids].log_softmax(-1)


def independent_llr(model: str, text: str, position: int, alt: str) -> float:
    """log P(alt) - log P(ref) at `position` of `text`: the token over it masked, bases read off the token texts."""
    _, tokenizer = api.load_model(model)
    _, spans = token_spans(tokenizer, text)
    token = next(i for i, (start, end) in enumerate(spans) if start <= position < end)
    texts, log_probs = masked_log_probs(model, text, [token])
    offset = position - spans[token][0]
    probabilities = log_probs[0].exp()
    reach = sum(float(p) for t, p in zip(texts, probabilities) if len(t) > offset)
    marginal = {
        b: sum(float(p) for t, p in zip(texts, probabilities) if len(t) > offset and t[offset] == b) for b in DNA
    }
    return math.log(marginal[alt] / reach) - math.log(marginal[text[position]] / reach)


def independent_pll(model: str, ref_text: str, alt_text: str) -> float:
    """Sum of log p(token | the rest) over the tokens that differ, alt minus ref, one masked pass per token."""
    _, tokenizer = api.load_model(model)
    (ref_ids, ref_spans), (alt_ids, alt_spans) = token_spans(tokenizer, ref_text), token_spans(tokenizer, alt_text)
    ref_tokens = list(zip(ref_ids, ref_spans))
    alt_tokens = list(zip(alt_ids, alt_spans))
    shift = len(alt_text) - len(ref_text)
    lead = 0
    while lead < min(len(ref_tokens), len(alt_tokens)) and ref_tokens[lead] == alt_tokens[lead]:
        lead += 1
    trail = 0
    while (
        trail < min(len(ref_tokens), len(alt_tokens)) - lead
        and ref_ids[-1 - trail] == alt_ids[-1 - trail]
        and ref_spans[-1 - trail][0] + shift == alt_spans[-1 - trail][0]
    ):
        trail += 1
    total = 0.0
    for sign, text, ids in ((-1, ref_text, ref_ids), (1, alt_text, alt_ids)):
        for i in range(lead, len(ids) - trail):
            texts, log_probs = masked_log_probs(model, text, [i])
            token_text = tokenizer.convert_ids_to_tokens(ids[i])
            total += sign * float(log_probs[0, texts.index(token_text)])
    return total


@torch.no_grad()
def encoder_states(model: str, text: str) -> torch.Tensor:
    """(tokens, hidden) last hidden states of `text` from the encoder alone (`AutoModel`), special tokens dropped."""
    encoder, tokenizer = api.load_model(model, task="feature-extraction")
    encoded = tokenizer(text, return_tensors="pt")
    states = encoder(**encoded).last_hidden_state[0].double()
    special = set(tokenizer.all_special_ids)
    keep = [i for i, token in enumerate(encoded["input_ids"][0].tolist()) if token not in special]
    return states[keep]
