"""`multimolecule predict-tracks`: a species' functional tracks for every base of a region, as TSV."""

from __future__ import annotations

import argparse

from .common import add_command, add_model, add_overwrite, add_quiet, add_runtime, add_species


def add(commands) -> None:
    parser = add_command(
        commands,
        "predict-tracks",
        run,
        help="predict a species' functional tracks of a region (post-trained NTv3)",
        description="Predict the functional tracks (bigwig) of SEQUENCE_OR_FASTA[:start-end] (1-based, inclusive; "
        "a FASTA's first record unless --record) for one species, with a model that has track heads (a "
        "post-trained NTv3), from windows whose predicted centres tile the region.",
    )
    parser.add_argument("target", metavar="SEQUENCE_OR_FASTA[:start-end]", help="DNA, or a FASTA file, and a region")
    add_model(parser, required=True)
    add_species(parser, required=True)
    parser.add_argument("--tracks", help="comma-separated track names (default: all of the species')")
    parser.add_argument("--record", help="the FASTA record (default: the first)")
    parser.add_argument("--window", type=int, help="bases per window (default: the model's trained length)")
    parser.add_argument("-b", "--batch-size", type=int, default=4, help="windows per forward pass (default 4)")
    parser.add_argument("-o", "--output", required=True, help="TSV: record, position, one column per track")
    add_overwrite(parser)
    add_runtime(parser)
    add_quiet(parser)


def run(args: argparse.Namespace) -> None:
    from .. import api  # here, not at the top: `--help` imports no torch

    result = api.predict_tracks(
        args.target,
        model=args.model,
        species=args.species,
        tracks=args.tracks.split(",") if args.tracks else None,
        record=args.record,
        window=args.window,
        batch_size=args.batch_size,
        output=args.output,
        device=args.device,
        dtype=args.dtype,
        overwrite=args.overwrite,
    )
    print(f"wrote {args.output}: {len(result.positions)} bases x {len(result.names)} {args.species} tracks")
