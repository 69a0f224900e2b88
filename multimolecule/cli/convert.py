"""`multimolecule convert`: an original checkpoint directory -> a multimolecule one."""

from __future__ import annotations

import argparse

from .common import add_command, add_overwrite, model_types


def add(commands) -> None:
    parser = add_command(commands, "convert", run, help="convert an original checkpoint to the multimolecule format")
    parser.add_argument("checkpoint", help="directory of the original checkpoint")
    parser.add_argument("output", help="directory to write the converted model to")
    parser.add_argument("-m", "--model", choices=model_types(), help="default: detected from the files")
    add_overwrite(parser)


def run(args: argparse.Namespace) -> None:
    from .. import api  # here, not at the top: `--help` imports no torch

    print(api.convert(args.checkpoint, args.output, model=args.model, overwrite=args.overwrite))
