"""Variant effect scoring and in-silico mutagenesis with masked DNA language models and fine-tuned heads.

- `io`: VCF/BCF/TSV variants in (one row per ALT allele, normalised on the genome), TSV or VCF scores out.
- `genome`: random access to a FASTA reference (plain, gzip or bgzip).
- `scores`: the windows and the scores (`llr`, `pll`, `cosine`, `l2`, `dot`, `head`), defined in its docstring;
  `track_scores`: the `tracks` score (alt - ref functional tracks near a variant, from a model with track heads).
- `engine`: `score_variants` (the scorer of a masked LM or of a fine-tuned model, `variant_scorer`), its shards,
  `torchrun` and `resume` through the one sharded-job runner (`multimolecule.utils.runner`); `mutagenesis`:
  every SNV of a region; `plot`: the mutagenesis picture; `tracks`: a region's functional tracks from a model with
  track heads.
"""

from .engine import VariantScores, run_score_variants, score_variants, variant_scorer
from .genome import Genome, Sequences
from .io import STATUSES, Change, Variant, locate, normalise, read_variants
from .mutagenesis import parse_target, run_mutagenesis
from .scores import SCORES, ModelContext, Scorer, Site, window_site
from .track_scores import TrackScorer
from .tracks import Tracks, predict_tracks

__all__ = [
    "SCORES",
    "STATUSES",
    "Change",
    "Genome",
    "ModelContext",
    "Scorer",
    "Sequences",
    "Site",
    "TrackScorer",
    "Tracks",
    "Variant",
    "VariantScores",
    "locate",
    "normalise",
    "parse_target",
    "predict_tracks",
    "read_variants",
    "run_mutagenesis",
    "run_score_variants",
    "score_variants",
    "variant_scorer",
    "window_site",
]
