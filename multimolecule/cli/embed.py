"""`multimolecule embed`: per-sequence (and per-base) embeddings into a .safetensors, .npz or .npy file."""

from __future__ import annotations

import argparse

from ..utils import InputError
from ..utils.distributed import is_main_process
from .common import (
    add_batching,
    add_command,
    add_deprecated,
    add_model,
    add_overwrite,
    add_quiet,
    add_runtime,
    add_species,
)


def add(commands) -> None:
    parser = add_command(commands, "embed", run, help="embed sequences (per sequence and optionally per base)")
    parser.add_argument("input", nargs="?", help="FASTA (plain or .gz) or one sequence per line; - for stdin")
    parser.add_argument("--example", action="store_true", help="embed the bundled example FASTA (E. coli DNA)")
    parser.add_argument("-o", "--output", required=True, help="output file: .safetensors, .npz or .npy")
    add_overwrite(parser)
    add_model(parser)
    add_species(parser)
    parser.add_argument(
        "--pooling",
        help="per-sequence pooling: mean (without <cls>/<eos>), mean-all (with them) or cls; default: the model's "
        "(mean-all for DNABERT-S, else mean)",
    )
    parser.add_argument("--per-base", action="store_true", help="also write one vector per base")
    parser.add_argument("--reverse-complement", action="store_true", help="average with the reverse complement")
    add_batching(parser, unit="windows")
    parser.add_argument(
        "--window-tokens",
        dest="window",
        type=int,
        metavar="TOKENS",
        help="tokens per window (default: the model's trained length)",
    )
    parser.add_argument(
        "--stride-tokens",
        dest="stride",
        type=int,
        metavar="TOKENS",
        help="tokens between windows (default: half a window with --per-base, else a window)",
    )
    for old, new in (("--window", "window"), ("--stride", "stride")):  # tokens here, bases in score-variants
        add_deprecated(parser, old, use=f"--{new}-tokens (--window counts bases elsewhere)", dest=new, type=int)
    parser.add_argument("--resume", action="store_true", help="keep finished shards and skip them when rerun")
    add_quiet(parser)
    add_runtime(parser)


def run(args: argparse.Namespace) -> None:
    if args.input is not None and args.example:
        raise InputError("give an input file or --example, not both")
    if args.input is None and not args.example:
        raise InputError("give an input file (FASTA or one sequence per line) or --example")
    from .. import api  # here, not at the top: `--help` imports no torch
    from ..demo import EXAMPLE_FASTA

    result = api.embed(
        args.input or EXAMPLE_FASTA,
        output=args.output,
        model=args.model,
        pooling=args.pooling,
        per_base=args.per_base,
        reverse_complement=args.reverse_complement,
        batch_size=args.batch_size,
        device=args.device,
        dtype=args.dtype,
        progress=args.progress,
        overwrite=args.overwrite,
        max_tokens=args.max_tokens,
        window=args.window,
        stride=args.stride,
        resume=args.resume,
        species=args.species,
    )
    if not is_main_process():
        return  # rank 0 reports
    count, hidden = result.embeddings.shape
    kind = "per-sequence and per-base" if result.per_base else "per-sequence"
    print(f"wrote {args.output}: {kind} embeddings of {count} sequences, hidden size {hidden}")
    for i, name in enumerate(result.ids[:10]):
        rows = f"  per-base {len(result.per_base[i])} x {hidden}" if result.per_base else ""
        print(f"  {name:<32} {result.lengths[i]:>9,} bp  norm {float(result.embeddings[i].norm()):6.2f}{rows}")
    if count > 10:
        print(f"  ... and {count - 10} more")
