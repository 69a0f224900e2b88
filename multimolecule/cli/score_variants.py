"""`multimolecule score-variants`: the variants of a VCF or TSV scored in windows of a reference genome."""

from __future__ import annotations

import argparse
import os

from .common import MODEL_HELP, add_batching, add_command, add_model, add_overwrite, add_quiet, add_runtime, add_species

SCORE_NAMES = ("llr", "pll", "cosine", "l2", "dot", "head", "tracks")  # multimolecule.variants.SCORES, not imported
DEFAULT_RADIUS = 128  # multimolecule.variants.track_scores.DEFAULT_RADIUS, not imported


def add_variant_scoring(parser: argparse.ArgumentParser) -> None:
    """The options `score-variants` and `mutagenesis` share: the model, the scores, the window, batching."""
    add_model(parser, MODEL_HELP + "; for --score head, a `multimolecule train` output")
    add_species(parser)
    parser.add_argument(
        "-s",
        "--score",
        action="append",
        choices=SCORE_NAMES,
        help="a score to compute, repeatable (default llr): see docs/variants.md for each one's definition",
    )
    parser.add_argument(
        "--window", type=int, metavar="BASES", help="bases per window, centred on the variant (default: trained length)"
    )
    parser.add_argument("--layer", type=int, default=-1, help="hidden state of cosine/l2/dot (default -1, the last)")
    parser.add_argument("--tracks", help="--score tracks: comma-separated track names written one column each")
    parser.add_argument(
        "--radius",
        type=int,
        default=DEFAULT_RADIUS,
        metavar="BASES",
        help=f"--score tracks: bases either side of the variant compared (default {DEFAULT_RADIUS})",
    )
    parser.add_argument("--reverse-complement", action="store_true", help="score both strands and average them")
    add_batching(parser, unit="windows")
    add_quiet(parser)
    add_runtime(parser)


def scoring_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of `api.score_variants` and `api.mutagenesis` that `add_variant_scoring` adds."""
    return {
        "model": args.model,
        "score": args.score or ["llr"],
        "window": args.window,
        "layer": args.layer,
        "species": args.species,
        "tracks": args.tracks.split(",") if args.tracks else None,
        "radius": args.radius,
        "reverse_complement": args.reverse_complement,
        "batch_size": args.batch_size,
        "max_tokens": args.max_tokens,
        "device": args.device,
        "dtype": args.dtype,
        "progress": args.progress,
        "overwrite": args.overwrite,
    }


def add(commands) -> None:
    parser = add_command(
        commands,
        "score-variants",
        run,
        help="score the variants of a VCF or TSV on a reference genome",
        description="Score each ALT allele of a VCF/BCF (plain or bgzip) or TSV (chrom, pos, ref, alt) in a window "
        "of the reference genome (FASTA: plain, gzip or bgzip) centred on it.",
    )
    parser.add_argument("variants", help="VCF/BCF (.vcf, .vcf.gz, .bcf) or TSV of chrom, pos (1-based), ref, alt")
    parser.add_argument("-r", "--reference", required=True, help="reference genome FASTA (plain, gzip or bgzip)")
    parser.add_argument("-o", "--output", required=True, help="scores: .tsv, or .vcf/.vcf.gz/.bcf for a VCF input")
    add_overwrite(parser)
    parser.add_argument("--resume", action="store_true", help="keep finished shards and skip them when rerun")
    add_variant_scoring(parser)


def run(args: argparse.Namespace) -> None:
    from .. import api  # here, not at the top: `--help` imports no torch

    result = api.score_variants(
        args.variants, args.reference, output=args.output, resume=args.resume, **scoring_options(args)
    )
    if int(os.environ.get("RANK", "0")):
        return  # rank 0 reports
    print(f"wrote {args.output}: {result.summary()}; scores {', '.join(result.columns)}")
