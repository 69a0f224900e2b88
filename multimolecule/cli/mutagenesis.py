"""`multimolecule mutagenesis`: every SNV of a sequence or region scored, as a table and a picture."""

from __future__ import annotations

import argparse

from ..utils import InputError
from .common import add_command, add_overwrite
from .score_variants import add_variant_scoring, scoring_options


def add(commands) -> None:
    parser = add_command(
        commands,
        "mutagenesis",
        run,
        help="score every SNV of a sequence or region (in-silico mutagenesis)",
        description="Score the three SNVs of every position of SEQUENCE_OR_FASTA[:start-end] (1-based, inclusive; "
        "a FASTA's first record unless --record), each in a window centred on it; optionally plot them.",
    )
    parser.add_argument("target", metavar="SEQUENCE_OR_FASTA[:start-end]", help="DNA, or a FASTA file, and a region")
    parser.add_argument("--record", help="the FASTA record (default: the first)")
    parser.add_argument("-o", "--output", help="scores as TSV (one row per SNV)")
    parser.add_argument("--plot", help="picture of the first score: .png, .svg or .pdf")
    add_overwrite(parser)
    add_variant_scoring(parser)


def run(args: argparse.Namespace) -> None:
    if args.output is None and args.plot is None:
        raise InputError("give an output (-o ism.tsv), a plot (--plot ism.png) or both")
    from .. import api  # here, not at the top: `--help` imports no torch

    result = api.mutagenesis(
        args.target, output=args.output, plot=args.plot, record=args.record, **scoring_options(args)
    )
    written = " and ".join(path for path in (args.output, args.plot) if path)
    print(f"wrote {written}: {result.summary('SNVs')}; scores {', '.join(result.columns)}")
