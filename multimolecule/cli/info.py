"""`multimolecule info`: what a checkpoint is, without loading its weights."""

from __future__ import annotations

import argparse
import json

from .common import add_command, add_model, add_quiet, deprecation


def add(commands) -> None:
    parser = add_command(commands, "info", run, help="describe a checkpoint")
    add_model(parser)
    parser.add_argument("old_model", nargs="?", help=argparse.SUPPRESS)  # deprecated: `info MODEL`, now `-m MODEL`
    parser.add_argument("--json", action="store_true", help="print JSON")
    add_quiet(parser)


def run(args: argparse.Namespace) -> None:
    from .. import api  # here, not at the top: `--help` imports no torch

    if args.old_model is not None:
        deprecation("multimolecule info MODEL", "multimolecule info -m MODEL")
    details = api.info(args.model or args.old_model)
    if args.json:
        print(json.dumps(details, indent=2))
        return
    width = max(len(key) for key in details)
    for key, value in details.items():
        if value is not None:
            print(f"{key:<{width}}  {f'{value:,}' if isinstance(value, int) else value}")
