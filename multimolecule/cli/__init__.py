"""The `multimolecule` command line: a thin argparse layer over `multimolecule.api`, one module per command.

    multimolecule fill-mask "ATGAAACGC<mask>ATTAGCACC"
    multimolecule embed sequences.fasta -o embeddings.safetensors --per-base
    multimolecule convert -m path/to/DNABERT-2-117M --output-dir converted/dnabert2
    multimolecule info -m nt-demo
    multimolecule train --data ecoli/sequence --output-dir finetuned
    multimolecule predict sequences.fasta --model finetuned -o predictions.csv
    multimolecule train-tokenizer --data genomes/ --output-dir bpe
    multimolecule pretrain --data genomes/ --model nt-demo --output-dir pretrained
    multimolecule score-variants variants.vcf.gz --reference genome.fa -o scores.tsv --score llr --score cosine
    multimolecule mutagenesis genes.fasta:1-100 -o ism.tsv --plot ism.png
    multimolecule benchmark gue --data GUE --model zhihan1996/DNABERT-2-117M --output-dir bench --mode probe

Without `--model`, the bundled DNABERT-2 demo model is used. Errors are reported as one `error: ...` line on
stderr with exit status 1 (2 for bad arguments and option values); `--debug` shows the traceback instead.

A new command is a module here with `add(commands)` (its parser, made by `common.add_command`) and `run(args)`,
listed in `COMMANDS`. Parsing imports neither torch nor transformers (`--help` answers at once); `run` imports
the API when the command runs. Options are checked by the engines, once (see `common.option_spelling`).

One vocabulary (docs/cli.md, checked by tests/cli/test_vocabulary.py): an option means the same, in the same unit
and with the same default, in every command that has it; every command has `-m/--model` (but `train-tokenizer`,
which has no model) and `-q/--quiet`; `-o/--output` names a file and `--output-dir` a folder; `--config` is a
settings file. Old spellings stay as hidden aliases that say, in one line, what replaces them (`common.Deprecated`).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence

from .. import __version__
from ..utils import OptionError, output_lock, raise_on_sigterm
from . import (
    benchmark,
    convert,
    embed,
    evaluate,
    fill_mask,
    info,
    mutagenesis,
    predict,
    predict_tracks,
    pretrain,
    score_variants,
    train,
    train_tokenizer,
)
from .common import Parser, one_line

COMMANDS = (
    fill_mask,
    embed,
    convert,
    info,
    train,
    evaluate,
    predict,
    pretrain,
    train_tokenizer,
    score_variants,
    mutagenesis,
    benchmark,
    predict_tracks,
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="multimolecule", description="DNA language models from the command line.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)
    for command in COMMANDS:
        command.add(commands)
    return parser


def written_path(args: argparse.Namespace) -> str | None:
    """The output a command writes (`-o`, `--output-dir`), locked while it runs (`utils.output_lock`); under
    `torchrun` the first process holds the lock for all."""
    if os.environ.get("RANK", "0") != "0":
        return None
    return getattr(args, "output", None) or getattr(args, "output_dir", None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 on success, 1 on error, 2 on bad arguments, 128 + the
    signal number after Ctrl-C or SIGTERM, which remove unfinished outputs: see `utils.atomic_output`)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:  # --help, --version, or a usage error already printed
        return exit.code if isinstance(exit.code, int) else 0
    if getattr(args, "progress", None) is False:  # -q: no Hub download bars either
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    try:
        with raise_on_sigterm(), output_lock(written_path(args)):
            args.handler(args)
    except KeyboardInterrupt as error:  # Ctrl-C, or SIGTERM (`utils.Terminated`)
        signum = getattr(error, "signum", signal.SIGINT)
        print(f"error: interrupted ({signal.Signals(signum).name}); unfinished outputs removed", file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:
        return 0
    except Exception as error:  # one line, never a traceback, unless --debug
        if args.debug:
            raise
        print(f"error: {one_line(error, args.parser)}", file=sys.stderr)
        return 2 if isinstance(error, OptionError) else 1
    return 0
