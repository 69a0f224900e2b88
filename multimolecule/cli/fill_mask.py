"""`multimolecule fill-mask`: the tokens at `<mask>` positions, as a table or JSON."""

from __future__ import annotations

import argparse
import json

from ..seqio import read_sequences, unique
from ..utils import InputError
from .common import add_command, add_model, add_quiet, add_runtime, add_species


def add(commands) -> None:
    parser = add_command(commands, "fill-mask", run, help="predict the tokens at <mask> positions")
    parser.add_argument("sequences", nargs="*", metavar="SEQUENCE", help="DNA with one or more <mask>")
    parser.add_argument("-i", "--input", help="FASTA or one-sequence-per-line file of masked sequences")
    add_model(parser)
    add_species(parser)
    parser.add_argument("-k", "--top-k", type=int, default=5, help="predictions per mask, at least 1 (default 5)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_quiet(parser)
    add_runtime(parser)


def run(args: argparse.Namespace) -> None:
    """Prints, per mask, the record id, the context around the mask and the predictions in that context (never
    the whole sequence: JSON holds `id`, `mask`, `context`, `base_probabilities` and `predictions`)."""
    from .. import api  # here, not at the top: `--help` imports no torch

    records = {f"seq{number}": sequence for number, sequence in enumerate(args.sequences, 1)}
    for name, sequence in (read_sequences(args.input) if args.input else {}).items():
        records[unique(name, records)] = sequence
    if not records:
        raise InputError("give masked sequences as arguments or with --input FILE")
    results = api.fill_mask(
        records, model=args.model, top_k=args.top_k, device=args.device, dtype=args.dtype, species=args.species
    )
    for masks in results:
        for entry in masks:
            del entry["sequence"]
            for prediction in entry["predictions"]:
                del prediction["sequence"]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for masks in results:
        for entry in masks:
            print(f"{entry['id']}  mask {entry['mask'] + 1} of {len(masks)}: {entry['context']}")
            bases = "  ".join(f"{base} {p:.3f}" for base, p in entry["base_probabilities"].items())
            print(f"  first base: {bases}")
            for rank, prediction in enumerate(entry["predictions"], 1):
                print(f"  {rank}. {prediction['token']:<8} {prediction['score']:.3f}  {prediction['context']}")
