"""`multimolecule info`: what a checkpoint is, without loading its weights."""

from __future__ import annotations

import argparse
import json

from .common import MODEL_HELP, add_command


def add(commands) -> None:
    parser = add_command(commands, "info", run, help="describe a checkpoint")
    parser.add_argument("model", nargs="?", help=MODEL_HELP)
    parser.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> None:
    from .. import api  # here, not at the top: `--help` imports no torch

    details = api.info(args.model)
    if args.json:
        print(json.dumps(details, indent=2))
        return
    width = max(len(key) for key in details)
    for key, value in details.items():
        if value is not None:
            print(f"{key:<{width}}  {f'{value:,}' if isinstance(value, int) else value}")
