"""`multimolecule train-tokenizer`: a tokenizer trained on genomes by a model family's recipe."""

from __future__ import annotations

import argparse
import warnings

from ..utils import OptionError
from .common import add_command, add_deprecated, add_overwrite, add_quiet

DESCRIPTION = (
    "Train a tokenizer on FASTA files or folders by the recipe a model family declares (its "
    "`ModelPackage.tokenizer_recipe`: the first registered family that has one; DNABERT-2's byte-pair encoding, "
    "<unk> <cls> <eos> <pad> <mask> at ids 0-4, then A C G T, then the merges). It loads as the family's "
    "tokenizer and feeds `multimolecule pretrain --architecture FAMILY --tokenizer DIR`."
)


def add(commands) -> None:
    parser = add_command(
        commands,
        "train-tokenizer",
        run,
        help="train a model family's tokenizer (DNABERT-2's BPE by default) on genomes",
        description=DESCRIPTION,
    )
    parser.add_argument("--data", required=True, metavar="GENOMES", help="FASTA files or folders, comma-separated")
    parser.add_argument("--vocab-size", type=int, default=4096, help="tokens, specials included (default 4096)")
    parser.add_argument("--output-dir", metavar="DIR", help="folder to write the tokenizer to (required)")
    add_deprecated(parser, "-o", "--output", use="--output-dir (-o/--output name files)", dest="output_dir")
    parser.add_argument(
        "--max-token-length", type=int, default=32, help="longest token in bases (default 32, as DNABERT-2's)"
    )
    parser.add_argument(
        "--max-bases", type=int, default=100_000_000, help="train on the first N bases (default 100,000,000)"
    )
    add_overwrite(parser)
    add_quiet(parser)


def run(args: argparse.Namespace) -> None:
    if args.output_dir is None:
        raise OptionError("give the folder to write the tokenizer to: --output-dir DIR")
    from .. import api  # here, not at the top: `--help` imports no torch

    recipe = api.recipe_family().tokenizer_recipe
    with warnings.catch_warnings(record=True) as caught:  # such as fewer tokens than asked: said as notes
        warnings.simplefilter("always")
        result = api.train_tokenizer(
            args.data,
            args.output_dir,
            args.vocab_size,
            args.max_token_length,
            args.max_bases,
            overwrite=args.overwrite,
        )
    print(f"wrote {args.output_dir}: a {recipe.kind} tokenizer of {len(result):,} tokens")
    for warning in caught:
        print(f"note: {warning.message}")
