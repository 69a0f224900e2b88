"""`multimolecule evaluate`: the metrics of a fine-tuned model on labelled data."""

from __future__ import annotations

import argparse
import json

from ..utils import InputError, atomic_output, check_apart, check_overwrite
from .common import add_batching, add_command, add_model, add_overwrite, add_quiet, add_runtime


def add(commands) -> None:
    parser = add_command(
        commands,
        "evaluate",
        run,
        help="score a fine-tuned model on labelled data",
        description="Score a model made by `multimolecule train` on labelled sequences in its training layout.",
    )
    parser.add_argument("file", nargs="?", help="a labelled table (CSV/TSV/JSON lines/Parquet)")
    add_model(parser, "the output directory of `multimolecule train`", required=True)
    parser.add_argument("--data", metavar="DIR", help="a folder with train/dev/test tables (instead of FILE)")
    parser.add_argument("--split", default="test", help="which split of --data to score (default test)")
    parser.add_argument("-o", "--output", help="also write the metrics to this JSON file")
    add_overwrite(parser)
    add_batching(parser)
    add_quiet(parser)
    add_runtime(parser)


def run(args: argparse.Namespace) -> None:
    if (args.file is None) == (args.data is None):
        raise InputError("give a labelled FILE or --data DIR (one of them)")
    if args.output:
        check_apart(args.output, [args.model, args.data, args.file])
        check_overwrite(args.output, args.overwrite)
    from .. import api  # here, not at the top: `--help` imports no torch

    metrics = api.evaluate(
        args.model,
        args.data,
        args.file,
        args.split,
        args.batch_size,
        args.device,
        args.dtype,
        args.progress,
        max_tokens=args.max_tokens,
    )
    if args.output:
        with atomic_output(args.output, args.overwrite) as temporary:
            temporary.write_text(json.dumps(metrics, indent=2) + "\n")
    for name, value in metrics.items():
        print(f"{name:<10} {value:.4f}")
