"""The `tracks` variant score: alt - ref functional-track deltas near a variant, from a model with track heads
(a post-trained NTv3), conditioned on one species.

Each allele's window (`Site.text`, `Site.alt_text`) goes through the model; its track heads predict the central
`keep_target_center_fraction` of the window (37.5% for NTv3), one value per base and track. The two alleles are
compared base by base at the bases within `radius` of the change that both windows predict: a base before the
change pairs with itself, a base after it with the same base shifted by the indel's length, and a substitution's
changed bases with each other (an indel's own bases have no partner and are left out). Per track, the delta is
the mean over those bases of alt - ref.

Columns: `track_<name>` for each chosen track, then the summary over every track of the species:
`tracks_mean_delta` (the mean of the tracks' deltas), `tracks_top_delta` (the delta of the track whose |delta| is
largest, with its sign) and `tracks_top_track` (that track's name). With no paired base (an indel and `radius` 0),
the deltas are NaN and the track name empty.

Identical windows are run once (the three alternatives of an SNV share the reference's pass), and only windows of
the same length share a batch: the heads' crop depends on the length, so rows are never padded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from ..models import (
    package_of,
    resolve_name,
    silence_transformers,
    species_condition,
    tokenizer_from_pretrained,
    trained_window,
)
from ..utils import InputError, check_device, check_positive, resolve_dtype
from ..utils.batching import token_budget_batches
from ..utils.errors import CheckpointError
from .scores import Site

DEFAULT_RADIUS = 128  # bases either side of the change: about a regulatory element, a nucleosome and a half
SUMMARY = ("tracks_mean_delta", "tracks_top_delta", "tracks_top_track")


def load_track_model(model: str, device: str | None, dtype: str | None):
    """(track model in eval mode, tokenizer) of a checkpoint with track heads; one line for any other model."""
    path = resolve_name(model, check=True)
    silence_transformers()
    try:
        package = package_of(path)
    except (OSError, ValueError, KeyError) as error:
        raise InputError(f"cannot load model {model}: {error}") from error
    if "track_prediction" not in package.model_classes:
        raise InputError(f"{model} has no track heads ({package.title} has none): tracks need a post-trained NTv3")
    try:
        config = package.config.from_pretrained(path)
    except (OSError, ValueError, KeyError, CheckpointError) as error:
        raise InputError(f"cannot load model {model}: {error}") from error
    if not getattr(config, "species", None):  # the family has track heads, this (pre-trained) checkpoint not
        raise InputError(f"{model} has no track heads (a pre-trained {package.title}): use a post-trained one")
    try:
        network = package.model_classes["track_prediction"].from_pretrained(path, dtype=resolve_dtype(dtype))
        tokenizer = tokenizer_from_pretrained(path)
    except (OSError, ValueError, KeyError, RuntimeError, CheckpointError) as error:
        raise InputError(f"cannot load model {model}: {error}") from error
    target = check_device("device", device) if device is not None else None
    return (network.to(target) if target is not None else network).eval(), tokenizer


def track_indices(config, species: str, tracks: Sequence[str] | None) -> tuple[list[str], list[int]]:
    """(every track name of `species`, the indices of `tracks` among them); an unknown name in one line that
    names the species' tracks (the first ten)."""
    available = list((config.bigwig_tracks or {}).get(species, []))
    unknown = [track for track in tracks or [] if track not in available]
    if unknown:
        shown = ", ".join(available[:10]) + (f" and {len(available) - 10} more" if len(available) > 10 else "")
        raise InputError(f"no track {', '.join(unknown)} for {species}; it has {shown}")
    return available, [available.index(track) for track in tracks or []]


def predicted_bases(length: int, fraction: float) -> range:
    """The bases of a `length`-base window that the track heads predict: the central `int(length · fraction)`,
    from `(length - kept) // 2` (the model's own crop).

    Example:
        >>> predicted_bases(64, 0.375)
        range(20, 44)
    """
    kept = int(length * fraction)
    start = (length - kept) // 2
    return range(start, start + kept)


def paired_bases(site: Site, radius: int, fraction: float) -> list[tuple[int, int]]:
    """(reference window base, alternative window base) of each base within `radius` of the change that both
    windows predict (see the module's docstring).

    Example:
        >>> text = "ACGTACGTAC" * 8  # 80 bases: the heads predict bases 25..54 (of 78 bases: 24..52)
        >>> paired_bases(Site(text, 40, "A", "G"), 1, 0.375)
        [(39, 39), (40, 40), (41, 41)]
        >>> paired_bases(Site(text, 40, "AC", ""), 1, 0.375)  # a deletion: its own two bases have no partner
        [(39, 39), (42, 40)]
    """
    ref_bases = predicted_bases(len(site.text), fraction)
    alt_bases = predicted_bases(len(site.alt_text), fraction)
    end, shift = site.start + len(site.ref), len(site.alt) - len(site.ref)
    pairs = []
    for base in range(site.start - radius, end + radius):
        if shift and site.start <= base < end:
            continue
        partner = base + shift if base >= end else base
        if base in ref_bases and partner in alt_bases:
            pairs.append((base, partner))
    return pairs


class TrackScorer:
    """Scores `Site`s by the alt - ref tracks of `species` near the change: `scorer(sites)` returns one
    {column: value} per site (columns: the module's docstring). `tracks`: the tracks written one column each.

    Example:
        >>> network, tokenizer = load_track_model("InstaDeepAI/NTv3_100M_post", "cpu", None)  # doctest: +SKIP
        >>> scorer = TrackScorer(network, tokenizer, "human", ["ENCSR056HPM"], radius=16)  # doctest: +SKIP
        >>> text = "ACGT" * 2048
        >>> rows = scorer([Site(text, 4096, "A", "G"), Site(text, 4096, "A", "A")])  # doctest: +SKIP
        >>> rows[1]["track_ENCSR056HPM"], rows[1]["tracks_top_delta"]  # doctest: +SKIP
        (0.0, 0.0)
    """

    def __init__(
        self,
        network: torch.nn.Module,
        tokenizer,
        species: str | None,
        tracks: Sequence[str] | None = None,
        radius: int = DEFAULT_RADIUS,
        max_tokens: int = 1024,
        max_batch_size: int | None = None,
    ):
        self.condition = species_condition(network.config, species)
        self.available, self.indices = track_indices(network.config, species, tracks)
        check_positive("radius", radius, allow_zero=True)
        check_positive("max_tokens", max_tokens)
        check_positive("batch_size", max_batch_size)
        self.network, self.tokenizer, self.species, self.tracks = network, tokenizer, species, list(tracks or [])
        self.radius, self.max_tokens, self.max_batch_size = radius, max_tokens, max_batch_size
        self.fraction = network.config.keep_target_center_fraction
        self.scores = ["tracks"]
        self.passes = 0  # forward passes run (windows), for the cost reports

    def columns(self) -> list[str]:
        """The output columns, in order: one per chosen track, then the summary."""
        return [f"track_{name}" for name in self.tracks] + list(SUMMARY)

    def default_bases(self) -> int:
        """The window in bases when not given: the model's trained length (one token per base)."""
        return trained_window(self.tokenizer, self.network.config)

    def __call__(self, sites: Sequence[Site], tick: Callable[[int], None] | None = None) -> list[dict]:
        plans = [paired_bases(site, self.radius, self.fraction) for site in sites]
        wanted: dict[str, set[int]] = {}  # window text -> the bases whose tracks are needed
        for site, pairs in zip(sites, plans):
            wanted.setdefault(site.text, set()).update(ref for ref, _ in pairs)
            wanted.setdefault(site.alt_text, set()).update(alt for _, alt in pairs)
        values = self.run(wanted)
        results = []
        for site, pairs in zip(sites, plans):
            results.append(self.finish(pairs, values.get(site.text), values.get(site.alt_text)))
            if tick is not None:
                tick(1)
        return results

    @torch.no_grad()
    def run(self, wanted: dict[str, set[int]]) -> dict[str, dict[int, torch.Tensor]]:
        """{window text: {base: (tracks,) float64}} for the wanted bases of each window, one pass per window."""
        by_length: dict[int, list[str]] = {}
        for text, bases in wanted.items():
            if bases:
                by_length.setdefault(len(text), []).append(text)
        device, width = self.network.device, len(self.available)
        values = {}
        for length, texts in by_length.items():
            first = predicted_bases(length, self.fraction).start
            for batch in token_budget_batches([length] * len(texts), self.max_tokens, self.max_batch_size):
                chosen = [texts[i] for i in batch]
                ids = self.tokenizer(chosen, add_special_tokens=False, return_tensors="pt")["input_ids"]
                if ids.shape[1] != length:
                    raise ValueError(f"the tokenizer gives {ids.shape[1]} tokens for {length} bases: not one per base")
                tracks = self.network(input_ids=ids.to(device), **self.condition).tracks  # (B, predicted, max tracks)
                self.passes += len(chosen)
                for row, text in enumerate(chosen):
                    bases = sorted(wanted[text])
                    picked = tracks[row, torch.tensor(bases, device=device) - first, :width].double().cpu()
                    values[text] = dict(zip(bases, picked))  # base -> (tracks,)
        return values

    def finish(self, pairs: list[tuple[int, int]], ref: dict | None, alt: dict | None) -> dict:
        if not pairs:
            return {column: math.nan for column in self.columns()} | {"tracks_top_track": ""}
        deltas = torch.stack([alt[a] - ref[r] for r, a in pairs]).mean(0)  # (tracks,): mean over the paired bases
        top = int(deltas.abs().argmax())
        row: dict = {f"track_{name}": float(deltas[i]) for name, i in zip(self.tracks, self.indices)}
        row.update(
            tracks_mean_delta=float(deltas.mean()),
            tracks_top_delta=float(deltas[top]),
            tracks_top_track=self.available[top],
        )
        return row
