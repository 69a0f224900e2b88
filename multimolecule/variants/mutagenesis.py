"""In-silico mutagenesis: every SNV of a region scored, each in a window centred on it.

The three alternatives of a position share their reference window, so `llr` costs one masked pass per position
(all three from the same masked distribution) and the embedding and head scores one reference pass per position
plus one pass per alternative. Positions whose base is not A/C/G/T have no SNVs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from ..seqio import DNA, as_records, looks_like_sequence
from ..utils import InputError, check_apart, check_overwrite, check_positive
from .engine import VariantScores, locate_all, variant_bar, variant_scorer
from .genome import Sequences
from .io import Variant, write_tsv
from .plot import check_plot, plot_mutagenesis
from .scores import Scorer
from .track_scores import DEFAULT_RADIUS

REGION = re.compile(r"^(?P<target>.*?):(?P<start>\d+)-(?P<end>\d+)$")


def parse_target(target: str | os.PathLike, record: str | None = None) -> tuple[str, str, int, int]:
    """(name, sequence, start, end) from `SEQUENCE_OR_FASTA[:start-end]`: a DNA sequence or a FASTA file (its
    first record, or `record`), and a 1-based, inclusive region (the whole sequence when not given).

    Example:
        >>> parse_target("ACGTACGTAA:3-5")
        ('seq1', 'ACGTACGTAA', 3, 5)
    """
    text, region = str(target), None
    match = REGION.match(text)
    if match and not os.path.exists(text):
        text, region = match["target"], (int(match["start"]), int(match["end"]))
    if looks_like_sequence(text) and not os.path.exists(text):
        records = as_records({"seq1": text})
    elif Path(text).is_file():
        records = as_records(text)
    else:
        raise InputError(f"{text} is neither a DNA sequence nor a FASTA file")
    if record is not None and record not in records:
        raise InputError(f"no record {record!r} in {text} (records: {', '.join(list(records)[:5])})")
    name = record or next(iter(records))
    sequence = records[name]
    start, end = region or (1, len(sequence))
    if not 1 <= start <= end <= len(sequence):
        raise InputError(f"region {start}-{end} is outside {name} (1-{len(sequence)})")
    return name, sequence, start, end


def run_mutagenesis(
    target: str | os.PathLike,
    scorer: Scorer,
    window: int,
    record: str | None = None,
    output: str | os.PathLike | None = None,
    progress: bool = False,
    overwrite: bool = False,
) -> VariantScores:
    """Every SNV of the region of `target` (see `parse_target`), scored by `scorer` in `window`-base windows."""
    name, sequence, start, end = parse_target(target, record)
    variants = [
        Variant(f"{name}:{pos}:{sequence[pos - 1]}:{base}", name, pos, sequence[pos - 1], base)
        for pos in range(start, end + 1)
        if sequence[pos - 1] in DNA
        for base in DNA
        if base != sequence[pos - 1]
    ]
    if not variants:
        raise InputError(f"region {start}-{end} of {name} has no A/C/G/T base")
    statuses, sites = locate_all(variants, Sequences({name: sequence}), window)
    indices = [i for i, site in enumerate(sites) if site is not None]
    with variant_bar(len(variants), progress) as bar:
        rows = scorer([sites[i] for i in indices], bar.update)
    scores: list[dict] = [{} for _ in variants]
    for i, row in zip(indices, rows):
        scores[i] = row
    result = VariantScores(variants, statuses, scores, scorer.columns())
    if output is not None:
        write_tsv(output, variants, statuses, scores, result.columns, overwrite)
    return result


def mutagenesis(
    target: str | os.PathLike,
    model: str | None = None,
    output: str | os.PathLike | None = None,
    plot: str | os.PathLike | None = None,
    score: str | Sequence[str] = "llr",
    record: str | None = None,
    window: int | None = None,
    layer: int = -1,
    reverse_complement: bool = False,
    batch_size: int | None = None,
    max_tokens: int | None = None,
    device: str | None = "cpu",
    dtype: str | None = None,
    progress: bool = False,
    overwrite: bool = False,
    species: str | None = None,
    tracks: Sequence[str] | None = None,
    radius: int = DEFAULT_RADIUS,
) -> VariantScores:
    """Every SNV of `target` (`SEQUENCE_OR_FASTA[:start-end]`, 1-based and inclusive; a FASTA's first record or
    `record`) scored as in `score_variants` (`species`, `tracks` and `radius` too); `output` a TSV, `plot` a
    .png/.svg/.pdf picture of the first score.

    Example:
        >>> from multimolecule.api import mutagenesis
        >>> result = mutagenesis("ATGAAACGCATTAGCACCACCATTACCACCACCATCACC:10-12", model="nt-demo")
        >>> len(result.variants), result.columns
        (9, ['llr'])
    """
    check_positive("window", window)
    for path in (output, plot):
        if path is not None:
            check_apart(path, [target, str(target).rpartition(":")[0]])
            check_overwrite(path, overwrite)
    if plot is not None:
        check_plot(plot)
    scorer = variant_scorer(
        model, score, layer, reverse_complement, max_tokens, batch_size, device, dtype, species, tracks, radius
    )
    window = window or scorer.default_bases()
    result = run_mutagenesis(target, scorer, window, record, output, progress, overwrite)
    if plot is not None:
        plot_mutagenesis(result, plot, overwrite=overwrite)
    return result
