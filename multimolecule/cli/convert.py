"""`multimolecule convert`: an original checkpoint directory -> a multimolecule one."""

from __future__ import annotations

import argparse

from ..utils import OptionError
from .common import add_command, add_model, add_overwrite, add_quiet, deprecation, model_types


def add(commands) -> None:
    parser = add_command(commands, "convert", run, help="convert an original checkpoint to the multimolecule format")
    add_model(parser, "directory of the original checkpoint to convert", metavar="CHECKPOINT")
    parser.add_argument("--output-dir", metavar="DIR", help="directory to write the converted model to")
    parser.add_argument("--model-type", choices=model_types(), help="the model type (default: detected from the files)")
    add_overwrite(parser)
    add_quiet(parser)
    # deprecated: `convert CHECKPOINT OUTPUT [--model TYPE]`, now `convert -m CHECKPOINT --output-dir OUTPUT`
    parser.add_argument("old_paths", nargs="*", help=argparse.SUPPRESS)


def run(args: argparse.Namespace) -> None:
    from .. import api  # here, not at the top: `--help` imports no torch

    checkpoint, output, model_type = args.model, args.output_dir, args.model_type
    if args.old_paths:
        if len(args.old_paths) != 2:
            raise OptionError("give -m CHECKPOINT --output-dir DIR")
        deprecation(
            "multimolecule convert CHECKPOINT OUTPUT", "multimolecule convert -m CHECKPOINT --output-dir OUTPUT"
        )
        if checkpoint is not None:  # the old `--model` named the model type
            if checkpoint not in model_types():
                choices = ", ".join(model_types())
                raise OptionError(
                    f"--model (the model type; now --model-type) must be one of {choices}; got {checkpoint!r}"
                )
            deprecation("multimolecule convert CHECKPOINT OUTPUT --model TYPE", "--model-type TYPE")
            model_type = checkpoint
        checkpoint, output = args.old_paths
    if checkpoint is None or output is None:
        raise OptionError("give -m CHECKPOINT --output-dir DIR")
    print(api.convert(checkpoint, output, model=model_type, overwrite=args.overwrite))
