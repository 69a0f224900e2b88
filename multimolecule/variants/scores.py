"""Variant effect scores from a masked language model's (or a fine-tuned head's) own outputs.

A variant is scored in a window of reference bases centred on it (`Site`): `window` bases (clipped at the
contig's ends by shifting the window inward). Each allele's window is tokenized on its own; where it gives more
tokens than the model was trained on, tokens are cut from both ends (the reference's first, then the same bases
from the alternative's, so that both windows still end at the same bases). Log-probabilities are over the vocabulary's
DNA tokens (special tokens excluded), as in `fill_mask`.

* `llr` (one forward pass): the tokens of the reference window that overlap the changed bases are all masked.
  For a masked token covering bases `o..o+l-1`, the marginal of base `o+k` (k < l) is
  `P(b) = sum of p(t) over DNA tokens t longer than k with t[k] == b, divided by the sum of p(t) over all DNA
  tokens longer than k` (the masked distribution over the tokens that reach that base; at a 6-mer slot of the
  Nucleotide Transformer these are its 6-mers, plus the single bases at k = 0; for a BPE token of DNABERT-2,
  the tokens of every length that reach it). `llr = sum over changed bases of log P(alt base) -
  log P(ref base)`. Substitutions only (SNVs and MNVs); an indel has no base-to-base pairing, so its `llr` is NaN
  (score it with `pll`). All three alternatives of an SNV come from the same pass.
* `pll` (one pass per differing token of each allele): the two windows' tokenizations are compared; the tokens
  left once the shared leading and trailing tokens are removed are masked one at a time, and
  `pll = sum log p(alt token | rest) - sum log p(ref token | rest)`.
* `cosine` (1 - cosine similarity), `l2` (Euclidean distance) and `dot` (dot product) between the two
  alleles' embeddings at hidden state `layer`, mean over the window's tokens; `cosine_variant`, `l2_variant` and
  `dot_variant` compare the mean over the tokens that overlap the changed bases (for an allele with no bases, a
  deletion, the tokens either side of the junction). Two passes (one per allele).
* `head` (two passes): a fine-tuned model's outputs, alt - ref: `head_logit_<class>` and
  `head_probability_<class>` for classification (`head_<label>` for regression); per-base heads give the mean
  over the changed bases (substitutions; NaN for indels, which have no base-to-base pairing).
* `tracks` (two passes, a model with track heads): alt - ref functional tracks near the change, scored on its own
  by `track_scores.TrackScorer`.

With `reverse_complement`, each score is also computed on the reverse-complemented window and the two are
averaged. Identical forward passes (the same token row) are run once: variants that share a window share its
reference pass, and the three alternatives of an SNV share the masked pass of `llr`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from ..seqio import DNA, revcomp
from ..utils import OptionError, check_choice, check_positive
from ..utils.batching import token_budget_batches
from .io import Change

SCORES = ("llr", "pll", "cosine", "l2", "dot", "head", "tracks")
EMBEDDING_SCORES = ("cosine", "l2", "dot")
LIKELIHOOD_SCORES = ("llr", "pll")


@dataclass(frozen=True)
class Site:
    """A change in its reference window: `text` (the window's bases), `start` (where the change begins in it),
    and the reference and alternative bases (`ref` == `text[start:start + len(ref)]`)."""

    text: str
    start: int
    ref: str
    alt: str

    @property
    def alt_text(self) -> str:
        return self.text[: self.start] + self.alt + self.text[self.start + len(self.ref) :]

    def reverse_complement(self) -> Site:
        return Site(
            revcomp(self.text), len(self.text) - self.start - len(self.ref), revcomp(self.ref), revcomp(self.alt)
        )


def window_site(change: Change, genome, window: int) -> tuple[str, Site | None]:
    """("ok", site) for `change` in a `window`-base window centred on it, or ("too-long" / "n-in-window", None).

    The window is shifted inward at a contig's ends; on a contig shorter than `window` it is the contig.
    """
    span = len(change.ref)
    if max(span, len(change.alt)) > window // 2:
        return "too-long", None
    flank = (window - span) // 2
    start, end = change.start - flank, change.start + span + flank
    length = genome.length(change.chrom)
    if start < 0:
        start, end = 0, end - start
    if end > length:
        start, end = start - (end - length), length
    start = max(start, 0)
    text = genome.fetch(change.chrom, start, end)
    if "N" in text or "N" in change.alt:
        return "n-in-window", None
    return "ok", Site(text, change.start - start, change.ref, change.alt)


@dataclass
class ModelContext:
    """A model and what scoring needs to know about its tokenizer.

    `template`: the ids put before and after a sequence; `window`: tokens per forward pass, special tokens
    included; `token_lengths`: bases per token id; `task`: a fine-tuned model's task (None for a masked LM);
    `condition`: the keyword arguments of every forward pass (`species_ids` of a species-conditioned model).
    """

    network: torch.nn.Module
    tokenizer: object
    template: tuple[list[int], list[int]]
    window: int
    token_lengths: torch.Tensor
    task: object | None = None
    condition: dict = field(default_factory=dict)
    candidate_ids: list[int] = field(init=False)
    candidate_texts: list[str] = field(init=False)

    def __post_init__(self):
        tokens = sorted((i, t) for t, i in self.tokenizer.get_vocab().items() if t and set(t) <= set(DNA))
        self.candidate_ids, self.candidate_texts = [i for i, _ in tokens], [t for _, t in tokens]
        # per offset k into a token: the candidates long enough to reach it and their base there, one-hot (count, 4)
        self.at_offset: list[tuple[torch.Tensor, torch.Tensor]] = []
        for k in range(max(len(t) for t in self.candidate_texts)):
            chosen = [i for i, t in enumerate(self.candidate_texts) if len(t) > k]
            letters = torch.tensor([DNA.index(self.candidate_texts[i][k]) for i in chosen])
            self.at_offset.append((torch.tensor(chosen), torch.nn.functional.one_hot(letters, 4).double()))

    @property
    def body(self) -> int:
        return self.window - len(self.template[0]) - len(self.template[1])

    def default_bases(self) -> int:
        """The window in bases when not given: the trained length in tokens times the bases of a k-mer token for
        a k-mer vocabulary (every k-mer present: the Nucleotide Transformer's 6-mers), else times 4 (BPE)."""
        longest = len(self.at_offset)
        complete = sum(len(t) == longest for t in self.candidate_texts) == 4**longest
        return self.body * (longest if complete else 4)


@dataclass
class Tokens:
    """An allele's window as tokens: ids, and each token's first base and length in the window's text."""

    ids: list[int]
    starts: list[int]
    lengths: list[int]

    def overlapping(self, start: int, end: int) -> list[int]:
        """Indices of the tokens that overlap bases [start, end); for an empty range, the tokens either side."""
        if end == start:
            start, end = start - 1, end + 1
        return [i for i, (s, n) in enumerate(zip(self.starts, self.lengths)) if s < end and s + n > start]


def tokenize(context: ModelContext, text: str, keep: tuple[int, int], like: tuple[Tokens, int] | None = None) -> Tokens:
    """`text` as tokens, cut to the model's window by removing tokens from both ends (never those overlapping
    bases `keep`). With `like` (the other allele's tokens and its window's length), the same bases are cut from
    each end first, so that both alleles' windows end at the same bases (and share their tokens there)."""
    ids = context.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    lengths = context.token_lengths[ids].tolist()
    if sum(lengths) != len(text):
        raise ValueError(f"the tokenizer covers {sum(lengths)} of the {len(text)} bases of a window")
    starts = [0]
    for n in lengths[:-1]:
        starts.append(starts[-1] + n)
    first, last = 0, len(ids)
    if like is not None and len(ids) > context.body:
        other, other_length = like
        left, right = other.starts[0], len(text) - (other_length - (other.starts[-1] + other.lengths[-1]))
        inside = Tokens(ids, starts, lengths).overlapping(*keep)
        while first < inside[0] and starts[first] < left:
            first += 1
        while last - 1 > inside[-1] and starts[last - 1] + lengths[last - 1] > right:
            last -= 1
    ids, starts, lengths = ids[first:last], starts[first:last], lengths[first:last]
    excess = len(ids) - context.body
    if excess > 0:
        inside = Tokens(ids, starts, lengths).overlapping(*keep)
        left = min(excess // 2, inside[0])
        left = max(left, excess - (len(ids) - 1 - inside[-1]))
        right = len(ids) - (excess - left)
        ids, starts, lengths = ids[left:right], starts[left:right], lengths[left:right]
    return Tokens(ids, starts, lengths)


def differing(a: Tokens, b: Tokens) -> tuple[list[int], list[int]]:
    """Indices of the tokens of `a` and of `b` left once their shared leading and trailing tokens are removed
    (compared by text, i.e. id, and base position from the window's end for trailing ones)."""
    first = 0
    while first < min(len(a.ids), len(b.ids)) and a.ids[first] == b.ids[first] and a.starts[first] == b.starts[first]:
        first += 1
    last = 0
    a_end, b_end = a.starts[-1] + a.lengths[-1], b.starts[-1] + b.lengths[-1]
    while (
        last < min(len(a.ids), len(b.ids)) - first
        and a.ids[-1 - last] == b.ids[-1 - last]
        and a_end - a.starts[-1 - last] == b_end - b.starts[-1 - last]
    ):
        last += 1
    return list(range(first, len(a.ids) - last)), list(range(first, len(b.ids) - last))


# ------------------------------------------------------------------------------------------------ requests
@dataclass
class Request:
    """What is wanted from one forward pass (one token row): log-probabilities at some positions, the hidden
    state's mean over some groups of positions, the head's output."""

    log_probs: set[int] = field(default_factory=set)
    hidden: set[tuple[int, ...]] = field(default_factory=set)
    head: bool = False


@dataclass
class Output:
    log_probs: dict[int, torch.Tensor] = field(default_factory=dict)  # position -> (candidates,)
    hidden: dict[tuple[int, ...], torch.Tensor] = field(default_factory=dict)  # positions -> (hidden,)
    head: torch.Tensor | None = None  # (labels,) or (bases, labels)


class Scorer:
    """Scores `Site`s with a model: `scorer(sites)` returns one {column: value} per site.

    Example:
        >>> from multimolecule.api import load_model, special_template, token_lengths
        >>> network, tokenizer = load_model("nt-demo")
        >>> lengths = token_lengths(network, tokenizer)
        >>> context = ModelContext(network, tokenizer, special_template(tokenizer), 20, lengths)
        >>> scorer = Scorer(context, ["llr", "cosine"])
        >>> site = Site("ACGTACGTTAGCATGCATCAGGCAT", 12, "A", "G")
        >>> row = scorer([site, Site(site.text, 12, "A", "A")])
        >>> sorted(row[0]), row[1]["llr"], row[1]["cosine"]
        (['cosine', 'cosine_variant', 'llr'], 0.0, 0.0)
    """

    def __init__(
        self,
        context: ModelContext,
        scores: Sequence[str],
        layer: int = -1,
        reverse_complement: bool = False,
        max_tokens: int = 1024,
        max_batch_size: int | None = None,
    ):
        scores = [scores] if isinstance(scores, str) else list(scores)
        if not scores:
            raise OptionError(f"score: choose at least one of {', '.join(SCORES)}", "score")
        for score in scores:
            check_choice("score", score, SCORES)
        if "tracks" in scores:
            raise OptionError("score tracks is scored on its own, by a model's track heads (TrackScorer)", "score")
        if context.task is None and "head" in scores:
            raise OptionError("score head needs a model fine-tuned with `multimolecule train` (a task.json)", "score")
        if context.task is not None and any(score in LIKELIHOOD_SCORES for score in scores):
            raise OptionError(
                "score llr and pll need a masked language model; a fine-tuned model has a task head", "score"
            )
        layers = context.network.config.num_hidden_layers
        if isinstance(layer, bool) or not isinstance(layer, int) or not -(layers + 1) <= layer <= layers:
            raise OptionError(f"layer must be a hidden state from {-(layers + 1)} to {layers}, got {layer!r}", "layer")
        check_positive("max_tokens", max_tokens)
        check_positive("batch_size", max_batch_size)
        self.context, self.scores, self.layer = context, list(dict.fromkeys(scores)), layer
        self.reverse_complement, self.max_tokens, self.max_batch_size = reverse_complement, max_tokens, max_batch_size
        self.passes = 0  # forward passes run (rows), for the cost reports

    @property
    def network(self) -> torch.nn.Module:
        return self.context.network

    def default_bases(self) -> int:
        """The window in bases when not given (`ModelContext.default_bases`)."""
        return self.context.default_bases()

    def columns(self) -> list[str]:
        """The output columns of the chosen scores, in order."""
        columns = []
        for score in self.scores:
            if score in EMBEDDING_SCORES:
                columns += [score, f"{score}_variant"]
            elif score == "head":
                columns += self.head_columns()
            else:
                columns.append(score)
        return columns

    def head_columns(self) -> list[str]:
        task = self.context.task
        names = task.classes or task.label_columns
        if task.problem_type == "regression":
            return [f"head_{name}" for name in names]
        return [f"head_logit_{name}" for name in names] + [f"head_probability_{name}" for name in names]

    def __call__(self, sites: Sequence[Site], tick: Callable[[int], None] | None = None) -> list[dict[str, float]]:
        plans = [[self.plan(strand) for strand in self.strands(site)] for site in sites]
        requests: dict[tuple[int, ...], Request] = {}
        for site_plans in plans:
            for _, wants in site_plans:
                for row, request in wants.items():
                    merged = requests.setdefault(row, Request())
                    merged.log_probs |= request.log_probs
                    merged.hidden |= request.hidden
                    merged.head |= request.head
        outputs = self.run(requests)
        results = []
        for site, site_plans in zip(sites, plans):
            strands = [
                self.finish(strand, tokens, outputs) for strand, (tokens, _) in zip(self.strands(site), site_plans)
            ]
            results.append({column: sum(s[column] for s in strands) / len(strands) for column in strands[0]})
            if tick is not None:
                tick(1)
        return results

    def strands(self, site: Site) -> list[Site]:
        return [site, site.reverse_complement()] if self.reverse_complement else [site]

    # ------------------------------------------------------------------------------------------ planning
    def row(self, ids: list[int], masked: Sequence[int] = ()) -> tuple[int, ...]:
        """The token row of a forward pass: the template around `ids`, the tokens at `masked` replaced by <mask>."""
        ids = list(ids)
        for index in masked:
            ids[index] = self.context.tokenizer.mask_token_id
        return (*self.context.template[0], *ids, *self.context.template[1])

    def plan(self, site: Site) -> tuple[tuple[Tokens, Tokens], dict[tuple[int, ...], Request]]:
        """Both alleles' tokens, and the requests of the chosen scores (keyed by token row)."""
        keep_ref = (site.start, site.start + len(site.ref))
        keep_alt = (site.start, site.start + len(site.alt))
        ref = tokenize(self.context, site.text, keep_ref)
        alt = tokenize(self.context, site.alt_text, keep_alt, like=(ref, len(site.text)))
        offset = len(self.context.template[0])
        wants: dict[tuple[int, ...], Request] = {}

        def want(row: tuple[int, ...]) -> Request:
            return wants.setdefault(row, Request())

        if "llr" in self.scores and len(site.ref) == len(site.alt) and site.ref != site.alt:
            masked = ref.overlapping(*keep_ref)
            want(self.row(ref.ids, masked)).log_probs |= {offset + i for i in masked}
        if "pll" in self.scores:
            for tokens, indices in zip((ref, alt), differing(ref, alt)):
                for i in indices:
                    want(self.row(tokens.ids, [i])).log_probs.add(offset + i)
        if any(score in self.scores for score in EMBEDDING_SCORES):
            for tokens, keep in ((ref, keep_ref), (alt, keep_alt)):
                request = want(self.row(tokens.ids))
                request.hidden.add(tuple(range(offset, offset + len(tokens.ids))))
                request.hidden.add(tuple(offset + i for i in tokens.overlapping(*keep)))
        if "head" in self.scores:
            want(self.row(ref.ids)).head = True
            want(self.row(alt.ids)).head = True
        return (ref, alt), wants

    # ------------------------------------------------------------------------------------------- running
    @torch.no_grad()
    def run(self, requests: dict[tuple[int, ...], Request]) -> dict[tuple[int, ...], Output]:
        rows = list(requests)
        outputs = {}
        network = self.context.network
        candidates = torch.tensor(self.context.candidate_ids)
        hidden_wanted = any(request.hidden for request in requests.values())
        for batch in token_budget_batches([len(row) for row in rows], self.max_tokens, self.max_batch_size):
            chosen = [rows[i] for i in batch]
            padded = torch.nn.utils.rnn.pad_sequence(
                [torch.tensor(row) for row in chosen],
                batch_first=True,
                padding_value=self.context.tokenizer.pad_token_id,
            )
            attention_mask = torch.zeros_like(padded)
            for i, row in enumerate(chosen):
                attention_mask[i, : len(row)] = 1
            result = network(
                input_ids=padded.to(network.device),
                attention_mask=attention_mask.to(network.device),
                output_hidden_states=hidden_wanted,
                **self.context.condition,
            )
            self.passes += len(chosen)
            logits = result.logits.float().cpu()
            states = result.hidden_states[self.layer].float().cpu() if hidden_wanted else None
            for i, row in enumerate(chosen):
                request, output = requests[row], Output()
                for position in request.log_probs:
                    output.log_probs[position] = logits[i, position, candidates].log_softmax(-1)
                for positions in request.hidden:
                    output.hidden[positions] = states[i, list(positions)].mean(0)
                if request.head:
                    output.head = logits[i]
                outputs[row] = output
        return outputs

    # ------------------------------------------------------------------------------------------ finishing
    def finish(self, site: Site, tokens: tuple[Tokens, Tokens], outputs: dict) -> dict[str, float]:
        ref, alt = tokens
        offset = len(self.context.template[0])
        values: dict[str, float] = {}
        keep_ref = (site.start, site.start + len(site.ref))
        keep_alt = (site.start, site.start + len(site.alt))
        for score in self.scores:
            if score == "llr":
                values["llr"] = self.llr(site, ref, outputs)
            elif score == "pll":
                total = 0.0
                for sign, allele, indices in zip((-1, 1), (ref, alt), differing(ref, alt)):
                    for i in indices:
                        log_probs = outputs[self.row(allele.ids, [i])].log_probs[offset + i]
                        total += sign * float(log_probs[self.context.candidate_ids.index(allele.ids[i])])
                values["pll"] = total
            elif score in EMBEDDING_SCORES:
                for suffix, (ref_group, alt_group) in (
                    ("", (range(len(ref.ids)), range(len(alt.ids)))),
                    ("_variant", (ref.overlapping(*keep_ref), alt.overlapping(*keep_alt))),
                ):
                    a = outputs[self.row(ref.ids)].hidden[tuple(offset + i for i in ref_group)]
                    b = outputs[self.row(alt.ids)].hidden[tuple(offset + i for i in alt_group)]
                    values[score + suffix] = embedding_score(score, a, b)
            elif score == "head":
                values.update(self.head(site, tokens, outputs))
        return values

    def llr(self, site: Site, ref: Tokens, outputs: dict) -> float:
        if len(site.ref) != len(site.alt):
            return math.nan
        if site.ref == site.alt:
            return 0.0
        masked = ref.overlapping(site.start, site.start + len(site.ref))
        output = outputs[self.row(ref.ids, masked)]
        offset = len(self.context.template[0])
        total = 0.0
        for i in masked:
            marginal = self.base_marginal(output.log_probs[offset + i], ref.lengths[i])  # (length, 4)
            for k in range(ref.lengths[i]):
                position = ref.starts[i] + k - site.start
                if 0 <= position < len(site.ref) and site.ref[position] != site.alt[position]:
                    ref_base, alt_base = DNA.index(site.ref[position]), DNA.index(site.alt[position])
                    total += float(marginal[k, alt_base].log() - marginal[k, ref_base].log())
        return total

    def base_marginal(self, log_probs: torch.Tensor, length: int) -> torch.Tensor:
        """(length, 4) base probabilities of a masked slot of `length` bases, from its token log-probabilities:
        at offset k, over the DNA tokens long enough to reach it (longer than k), by their base at k."""
        probabilities = log_probs.double().exp()
        rows = []
        for chosen, letters in self.context.at_offset[:length]:
            weights = probabilities[chosen]
            rows.append(weights @ letters / weights.sum())
        return torch.stack(rows)

    def head(self, site: Site, tokens: tuple[Tokens, Tokens], outputs: dict) -> dict[str, float]:
        task = self.context.task
        ref, alt = (outputs[self.row(allele.ids)].head for allele in tokens)
        if task.level == "token":  # per-base outputs, from the window's first kept base: the changed bases' mean
            if len(site.ref) != len(site.alt) or not site.ref:
                return dict.fromkeys(self.head_columns(), math.nan)
            ref_first, alt_first = (site.start - allele.starts[0] for allele in tokens)
            ref = ref[ref_first : ref_first + len(site.ref)].mean(0)
            alt = alt[alt_first : alt_first + len(site.alt)].mean(0)
        names = task.classes or task.label_columns
        if task.problem_type == "regression":
            return {f"head_{name}": float(alt[i] - ref[i]) for i, name in enumerate(names)}
        turn = torch.sigmoid if task.problem_type == "multi_label_classification" else lambda x: x.softmax(-1)
        change = turn(alt) - turn(ref)
        values = {f"head_logit_{name}": float(alt[i] - ref[i]) for i, name in enumerate(names)}
        values.update({f"head_probability_{name}": float(change[i]) for i, name in enumerate(names)})
        return values


def embedding_score(score: str, ref: torch.Tensor, alt: torch.Tensor) -> float:
    """`cosine`: 1 - cosine similarity; `l2`: Euclidean distance; `dot`: dot product (float64)."""
    ref, alt = ref.double(), alt.double()
    if score == "cosine":  # 1 - cos(ref, alt), as half the squared distance of the unit vectors: 0 when equal
        return float(0.5 * (ref / ref.norm() - alt / alt.norm()).square().sum())
    if score == "l2":
        return float((alt - ref).norm())
    return float(torch.dot(ref, alt))
