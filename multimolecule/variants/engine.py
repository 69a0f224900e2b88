"""The engine behind `score_variants`: variants located on the genome, scored shard by shard, written once.

Variants are cut, in input order, into shards by the one sharded-job runner (`multimolecule.utils.runner`), as
`embed` cuts records: shard `k` belongs to rank `k % world_size` under `torchrun`. With several processes, or
with `resume`, each finished shard is kept in `<output>.shards/` (a JSON-lines file stamped with the digest of
its variants and their reference windows) and rank 0 merges them, in order, into the output. A resumed job skips
the shards already there only for the same job: same variants, same reference bases in their windows, same
weights, dtype and settings; otherwise one line names what differs. The output appears atomically, when
complete.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..demo import DEFAULT_MODEL
from ..models import load_model, resolve_name, special_template, species_condition, token_lengths, trained_window
from ..utils import OptionError, check_apart, check_overwrite, check_positive
from ..utils.batching import default_max_tokens
from ..utils.runner import (
    SHARD_RECORDS,
    Shard,
    ShardedJob,
    check_job_output,
    digest,
    item_digest,
    read_jsonl_shard,
    read_jsonl_stamp,
    weights_digest,
    write_jsonl_shard,
)
from .genome import Genome
from .io import Variant, check_output, locate, naming_hints, read_variants, write_tsv, write_vcf
from .scores import ModelContext, Scorer, window_site
from .track_scores import DEFAULT_RADIUS, TrackScorer, load_track_model


@dataclass
class VariantScores:
    """What `score_variants` returns: the input `variants` (one per ALT allele, input order), each one's
    `status`, its `scores` ({column: value}, empty unless the status is `ok`) and the score `columns`."""

    variants: list[Variant]
    statuses: list[str]
    scores: list[dict[str, float]]
    columns: list[str]
    notes: list[str] = field(default_factory=list)  # hints about the statuses (contig naming)

    def summary(self, unit: str = "alleles") -> str:
        """`N alleles (n ok, m contig-not-found)`, every status counted, then the notes.

        Example:
            >>> VariantScores([], ["ok", "n-in-window", "ok"], [], ["llr"]).summary()
            '3 alleles (2 ok, 1 n-in-window)'
        """
        counts = {status: self.statuses.count(status) for status in dict.fromkeys(self.statuses)}
        text = f"{len(self.statuses)} {unit} ({', '.join(f'{n} {status}' for status, n in counts.items())})"
        return "; ".join([text, *self.notes])

    def rows(self) -> list[dict]:
        """One dict per variant: id, chrom, pos, ref, alt, status and the score columns (None where unscored)."""
        return [
            {
                "id": v.id,
                "chrom": v.chrom,
                "pos": v.pos,
                "ref": v.ref,
                "alt": v.alt,
                "status": status,
                **{column: row.get(column) for column in self.columns},
            }
            for v, status, row in zip(self.variants, self.statuses, self.scores)
        ]


def locate_all(variants: Sequence[Variant], genome, window: int) -> tuple[list[str], list]:
    """(status, `Site` or None) of every variant."""
    located = [locate_one(variant, genome, window) for variant in variants]
    return [status for status, _ in located], [site for _, site in located]


def locate_one(variant: Variant, genome, window: int) -> tuple[str, object]:
    """(status, `Site` or None) of one variant: its window is cut from the genome."""
    status, change = locate(variant, genome)
    if change is None:
        return status, None
    return window_site(change, genome, window)


def variant_bar(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="variant", disable=not enabled, dynamic_ncols=True, file=sys.stderr)


def variant_scorer(
    model: str | os.PathLike | None,
    score: str | Sequence[str] = "llr",
    layer: int = -1,
    reverse_complement: bool = False,
    max_tokens: int | None = None,
    batch_size: int | None = None,
    device: str | None = "cpu",
    dtype: str | None = None,
    species: str | None = None,
    tracks: Sequence[str] | None = None,
    radius: int = DEFAULT_RADIUS,
) -> Scorer | TrackScorer:
    """The scorer of `model`: a masked LM, or a `multimolecule train` output (a folder with a task.json), whose
    head then gives the `head` scores; for `score` `tracks`, a model with track heads (`TrackScorer`: the
    `species`' tracks within `radius` bases of the change, `tracks` one column each). `species` conditions a
    species-conditioned model (a post-trained NTv3), which needs one."""
    from ..training.inference import load_fine_tuned  # here, not at the top: transformers' Trainer is slow to import

    scores = [score] if isinstance(score, str) else list(score or [])
    if "tracks" in scores:
        if len(set(scores)) > 1:
            raise OptionError("score tracks is scored on its own (by the track heads): score the others apart", "score")
        if reverse_complement:
            raise OptionError(
                "reverse_complement does not apply to score tracks: a track may be of one strand", "reverse_complement"
            )
        network, tokenizer = load_track_model(model, device, dtype)
        budget = max_tokens or default_max_tokens(network.device)
        return TrackScorer(network, tokenizer, species, tracks, radius, budget, batch_size)
    if tracks:
        raise OptionError("tracks names the track columns of score tracks: add that score", "tracks")
    if (Path(resolve_name(model)) / "task.json").is_file():
        network, tokenizer, task = load_fine_tuned(model, device, dtype)
    else:
        network, tokenizer, task = *load_model(model, device, dtype), None
    window = trained_window(tokenizer, network.config)
    context = ModelContext(
        network,
        tokenizer,
        special_template(tokenizer),
        window,
        token_lengths(network, tokenizer),
        task,
        species_condition(network.config, species),
    )
    budget = max_tokens or default_max_tokens(network.device)
    return Scorer(context, score, layer, reverse_complement, max(budget, window), batch_size)


def score_variants(
    variants: str | os.PathLike,
    reference: str | os.PathLike,
    model: str | None = None,
    output: str | os.PathLike | None = None,
    score: str | Sequence[str] = "llr",
    window: int | None = None,
    layer: int = -1,
    reverse_complement: bool = False,
    batch_size: int | None = None,
    max_tokens: int | None = None,
    device: str | None = "cpu",
    dtype: str | None = None,
    progress: bool = False,
    resume: bool = False,
    overwrite: bool = False,
    species: str | None = None,
    tracks: Sequence[str] | None = None,
    radius: int = DEFAULT_RADIUS,
) -> VariantScores:
    """Score the variants of a VCF/BCF or TSV (chrom, pos, ref, alt) on a reference FASTA with `model`.

    `score` is one or more of `llr`, `pll`, `cosine`, `l2`, `dot` (masked language models) and `head` (a model
    fine-tuned with `train`; `cosine`, `l2`, `dot` work with it too), defined in `multimolecule.variants.scores`
    and docs/variants.md, or `tracks` alone (a model with track heads, a post-trained NTv3: the alt - ref tracks of
    `species` within `radius` bases of the change, `tracks` one column each and a summary of all; see
    `multimolecule.variants.track_scores`). `species`: the species a species-conditioned model is conditioned on.
    `window`: bases per window, centred on the variant (default: the model's trained length
    in tokens, in bases). `layer`: the hidden state of the embedding scores (-1, the last). `output` (`.tsv`, or
    `.vcf`/`.vcf.gz`/`.bcf` for a VCF input) is written atomically; with `resume` (or under `torchrun`) finished
    shards are kept in `<output>.shards/`. Returns a `VariantScores` (`.rows()`: one dict per ALT allele).

    Example:
        >>> from multimolecule.api import score_variants
        >>> result = score_variants("variants.vcf.gz", "genome.fa", score=["llr", "cosine"])  # doctest: +SKIP
        >>> result.rows()[0]["status"]  # doctest: +SKIP
        'ok'
    """
    check_positive("window", window)
    check_job_output(output, resume)
    if output is not None:
        check_apart(output, [variants, reference])
    scorer = variant_scorer(
        model, score, layer, reverse_complement, max_tokens, batch_size, device, dtype, species, tracks, radius
    )
    window = window or scorer.default_bases()
    settings = {"model": str(model or DEFAULT_MODEL), "scores": scorer.scores, "window": window, "layer": layer}
    settings.update(reverse_complement=reverse_complement, species=species)
    if isinstance(scorer, TrackScorer):
        settings.update(tracks=scorer.tracks, radius=radius)
    return run_score_variants(variants, reference, scorer, window, output, settings, progress, resume, overwrite)


def run_score_variants(
    variants_path: str | os.PathLike,
    reference: str | os.PathLike,
    scorer: Scorer,
    window: int,
    output: str | os.PathLike | None = None,
    settings: dict | None = None,
    progress: bool = False,
    resume: bool = False,
    overwrite: bool = False,
) -> VariantScores:
    """Score every variant of `variants_path` on `reference` with `scorer` (see `multimolecule.api.score_variants`)."""
    kind = check_output(output, variants_path) if output is not None else None
    if output is not None:
        check_overwrite(output, overwrite)
    check_job_output(output, resume)
    variants = read_variants(variants_path)
    genome = Genome(reference)
    # every variant's status and the digest of what it is scored from (its window of reference bases); the windows
    # themselves (a Site holds its bases) only of the shard being scored, so that memory stays flat
    statuses, contents = [], []
    for chunk in range(0, len(variants), SHARD_RECORDS):
        chunk_statuses, chunk_sites = locate_all(variants[chunk : chunk + SHARD_RECORDS], genome, window)
        statuses += chunk_statuses
        contents += [digest(status, site_content(site)) for status, site in zip(chunk_statuses, chunk_sites)]
    items = [item_digest(variant_key(variant), content) for variant, content in zip(variants, contents)]
    job = ShardedJob(output, items, {}, resume, ".jsonl", read_jsonl_stamp)
    mine = job.mine()
    scores: list[dict] = [{} for _ in variants]

    def score_shard(shard: Shard) -> list[dict]:
        shard_sites = locate_all([variants[i] for i in shard.items], genome, window)[1]
        indices = [i for i, site in zip(shard.items, shard_sites) if site is not None]
        rows = scorer([site for site in shard_sites if site is not None], bar.update)
        shard_scores = [{} for _ in shard.items]
        for i, row in zip(indices, rows):
            shard_scores[i - shard.items.start] = row
        bar.update(len(shard.items) - len(indices))
        return shard_scores

    def write_output(merged: list[dict]) -> VariantScores:
        result = VariantScores(variants, statuses, [restore_nan(row) for row in merged], scorer.columns())
        result.notes = naming_hints(variants, statuses, genome)
        if output is not None and job.rank == 0:
            writer = write_vcf if kind == "vcf" else write_tsv
            source = (variants_path,) if kind == "vcf" else ()
            writer(output, *source, result.variants, result.statuses, result.scores, result.columns, overwrite)
        return result

    with variant_bar(sum(len(shard.items) for shard in mine), progress and job.rank == 0) as bar:
        if not job.keep:
            job.prepare()  # removes the shards of an earlier resumable run: this one starts afresh
            for shard in mine:
                scores[shard.items.start : shard.items.stop] = score_shard(shard)
            return write_output(scores)
        if job.rank == 0:
            job.manifest.update(job_manifest(scorer, settings, variants, contents))
        job.prepare()
        for shard in mine:
            if job.finished(shard):
                bar.update(len(shard.items))
                continue
            write_jsonl_shard(shard.path, shard.digest, score_shard(shard))

    def merge(shards: list[Shard]) -> VariantScores:
        merged = [row for shard in shards for row in read_jsonl_shard(shard.path)]
        return write_output(merged)

    result = job.merge(merge)
    if result is None:
        result = VariantScores(variants, statuses, scores, scorer.columns())
        result.notes = naming_hints(variants, statuses, genome)
    return result


def variant_key(variant: Variant) -> str:
    """A variant's stable key: where it is and what it changes."""
    return f"{variant.chrom}:{variant.pos}:{variant.ref}:{variant.alt}"


def site_content(site) -> list | None:
    """What a variant is scored from: its window of reference bases and where the change is in it."""
    return None if site is None else [site.text, site.start, site.ref, site.alt]


def job_manifest(scorer: Scorer, settings: dict | None, variants, contents: list[str]) -> dict:
    """What binds a shard folder to this job: the variants, the reference bases they are scored on (the digests of
    their windows, `contents`), the model's weights, its dtype and every setting (a scorer without a model, such as
    a test's, is named by its class)."""
    network = getattr(scorer, "network", None)
    return {
        "inputs": {
            "variants": digest([[v.id, variant_key(v)] for v in variants]),
            "reference": digest(contents),
        },
        "model": weights_digest(network.name_or_path) if network is not None else type(scorer).__name__,
        "dtype": str(network.dtype).removeprefix("torch.") if network is not None else None,
        "settings": {
            **(settings or {}),
            "max_tokens": getattr(scorer, "max_tokens", None),
            "batch_size": getattr(scorer, "max_batch_size", None),
        },
    }


def restore_nan(row: dict) -> dict:
    """JSON writes NaN as NaN and reads it back as a float; make sure values are floats (names stay text)."""
    return {
        key: value if isinstance(value, str) else float(value) if value is not None else math.nan
        for key, value in row.items()
    }
