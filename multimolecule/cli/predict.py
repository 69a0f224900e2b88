"""`multimolecule predict`: labels and probabilities (or values) of a fine-tuned model for new sequences."""

from __future__ import annotations

import argparse

from .common import add_batching, add_command, add_model, add_overwrite, add_quiet, add_runtime


def add(commands) -> None:
    parser = add_command(
        commands,
        "predict",
        run,
        help="predict labels or values with a fine-tuned model",
        description="Predict with a model made by `multimolecule train`: labels and probabilities of each class "
        "(or values; per base for per-base models) for each sequence of a FASTA file or table.",
    )
    parser.add_argument("input", help="FASTA (plain or .gz), one sequence per line, or a table with a sequence column")
    add_model(parser, "the output directory of `multimolecule train`", required=True)
    parser.add_argument(
        "-o", "--output", required=True, help="predictions file: .csv, .tsv or .jsonl (per base: .jsonl)"
    )
    add_overwrite(parser)
    add_batching(parser)
    add_quiet(parser)
    add_runtime(parser)


def run(args: argparse.Namespace) -> None:
    from .. import api  # here, not at the top: `--help` imports no torch

    results = api.predict(
        args.input,
        args.model,
        args.output,
        args.batch_size,
        args.device,
        args.dtype,
        args.progress,
        args.overwrite,
        max_tokens=args.max_tokens,
    )
    print(f"wrote {args.output}: predictions for {len(results)} sequences")
