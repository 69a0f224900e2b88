"""The engine behind `score_variants`: variants located on the genome, scored shard by shard, written once.

Variants are cut, in input order, into shards of `utils.shards.SHARD_RECORDS` variants, as `embed` cuts records:
shard `k` belongs to rank `k % world_size` under `torchrun`. With several processes, or with `resume`, each
finished shard is kept in `<output>.shards/` (a JSON-lines file) and rank 0 merges them, in order, into the
output; a resumed job skips the shards already there, and refuses shards of another job (other inputs or
settings). The output appears atomically, when complete.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..utils import InputError, atomic_output, check_overwrite
from ..utils.distributed import distributed_context, end_distributed, synchronize
from ..utils.shards import prepare_shards_everywhere, shard_directory, shard_ranges
from .genome import Genome
from .io import Variant, check_output, locate, naming_hints, read_variants, write_tsv, write_vcf
from .scores import Scorer, window_site


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
    elif resume:
        raise InputError("resume needs an output file: its finished shards are kept beside it")
    variants = read_variants(variants_path)
    genome = Genome(reference)
    # the statuses of all, the windows (a Site holds its bases) only of the shard being scored: memory stays flat
    statuses = [locate_one(variant, genome, window)[0] for variant in variants]
    rank, world, _ = distributed_context()
    if world > 1 and output is None:
        raise InputError("several processes need an output file to write their shards to")
    shards = shard_ranges(len(variants))
    mine = [shard for shard in range(len(shards)) if shard % world == rank]
    scores: list[dict] = [{} for _ in variants]

    def score_shard(shard: int) -> list[dict]:
        sites = dict(zip(shards[shard], locate_all([variants[i] for i in shards[shard]], genome, window)[1]))
        indices = [i for i in shards[shard] if sites[i] is not None]
        rows = scorer([sites[i] for i in indices], bar.update)
        shard_scores = [{} for _ in shards[shard]]
        for i, row in zip(indices, rows):
            shard_scores[i - shards[shard].start] = row
        bar.update(len(shards[shard]) - len(indices))
        return shard_scores

    with variant_bar(sum(len(shards[s]) for s in mine), progress and rank == 0) as bar:
        if output is None or not (world > 1 or resume):
            for shard in mine:
                scores[shards[shard].start : shards[shard].stop] = score_shard(shard)
        else:
            directory = shard_directory(Path(output))
            digest = hashlib.sha256(json.dumps([[v.chrom, v.pos, v.ref, v.alt] for v in variants]).encode())
            manifest = {"settings": settings or {}, "variants": len(variants), "inputs": digest.hexdigest()}
            prepare_shards_everywhere(directory, manifest, resume, rank)
            for shard in mine:
                path = directory / f"shard-{shard:05d}-of-{len(shards):05d}.jsonl"
                if path.is_file():
                    bar.update(len(shards[shard]))
                    continue
                rows = score_shard(shard)
                with atomic_output(path) as temporary:
                    temporary.write_text("".join(json.dumps(row) + "\n" for row in rows))
            synchronize()
            if rank == 0:
                for shard in range(len(shards)):
                    path = directory / f"shard-{shard:05d}-of-{len(shards):05d}.jsonl"
                    rows = [json.loads(line) for line in path.read_text().splitlines()]
                    scores[shards[shard].start : shards[shard].stop] = rows
    result = VariantScores(variants, statuses, [restore_nan(row) for row in scores], scorer.columns())
    result.notes = naming_hints(variants, statuses, genome)
    if output is not None and rank == 0:
        writer = write_vcf if kind == "vcf" else write_tsv
        source = (variants_path,) if kind == "vcf" else ()
        writer(output, *source, result.variants, result.statuses, result.scores, result.columns, overwrite)
        if world > 1 or resume:
            shutil.rmtree(shard_directory(Path(output)), ignore_errors=True)
    if output is not None and world > 1:
        end_distributed()
    return result


def restore_nan(row: dict) -> dict:
    """JSON writes NaN as NaN and reads it back as a float; make sure values are floats."""
    return {key: float(value) if value is not None else math.nan for key, value in row.items()}
