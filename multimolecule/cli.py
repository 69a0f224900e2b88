"""The `multimolecule` command line: a thin argparse layer over `multimolecule.api`.

    multimolecule fill-mask "ATGAAACGC<mask>ATTAGCACC"
    multimolecule embed sequences.fasta -o embeddings.safetensors --per-base
    multimolecule convert path/to/DNABERT-2-117M converted/dnabert2
    multimolecule info nt-demo
    multimolecule train --data ecoli/sequence --output-dir finetuned
    multimolecule predict sequences.fasta --model finetuned -o predictions.csv

Without `--model`, the bundled DNABERT-2 demo model is used. Errors are reported as one `error: ...` line on
stderr with exit status 1 (2 for bad arguments); `--debug` shows the traceback instead.

Parsing and checking the arguments imports neither torch nor transformers (`--help` answers at once); a command
imports what it needs when it runs. For new commands: `add_overwrite(parser)` adds the shared `--overwrite`
flag, `add_runtime(parser)` `--device`/`--dtype`, and `check_runtime(args)` checks those two. Option checks
raise `OptionError` (exit status 2): see `multimolecule.seqio.check_positive`, `check_choice`, `check_dtype` and
`check_device`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .seqio import InputError, OptionError, check_device, check_dtype, check_positive, raise_on_sigterm, unique
from .utils.errors import ConversionError

MODEL_HELP = "model directory or Hub id (ours or an original one), or bundled demo: dnabert2-demo (default), nt-demo"


class Parser(argparse.ArgumentParser):
    """argparse, with its errors as one `error: ...` line (and exit status 2), like every other error here."""

    def error(self, message: str):
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="multimolecule", description="DNA language models from the command line.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=Parser)

    fill = commands.add_parser("fill-mask", help="predict the tokens at <mask> positions")
    fill.add_argument("sequences", nargs="*", metavar="SEQUENCE", help="DNA with one or more <mask>")
    fill.add_argument("-i", "--input", help="FASTA or one-sequence-per-line file of masked sequences")
    fill.add_argument("-m", "--model", help=MODEL_HELP)
    fill.add_argument("-k", "--top-k", type=int, default=5, help="predictions per mask, at least 1 (default 5)")
    fill.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_runtime(fill)
    fill.set_defaults(handler=run_fill_mask)

    emb = commands.add_parser("embed", help="embed sequences (per sequence and optionally per base)")
    emb.add_argument("input", nargs="?", help="FASTA (plain or .gz) or one sequence per line; - for stdin")
    emb.add_argument("--example", action="store_true", help="embed the bundled example FASTA (E. coli DNA)")
    emb.add_argument("-o", "--output", required=True, help="output file: .safetensors, .npz or .npy")
    add_overwrite(emb)
    emb.add_argument("-m", "--model", help=MODEL_HELP)
    emb.add_argument("--pooling", choices=("mean", "cls"), default="mean", help="per-sequence pooling (default mean)")
    emb.add_argument("--per-base", action="store_true", help="also write one vector per base")
    emb.add_argument("--reverse-complement", action="store_true", help="average with the reverse complement")
    emb.add_argument("-b", "--batch-size", type=int, help="at most this many windows per forward pass")
    emb.add_argument(
        "--max-tokens", type=int, help="tokens per forward pass, padding included (default 1024 on CPU, 32768 on GPU)"
    )
    emb.add_argument("--window", type=int, help="tokens per window (default: the model's trained length)")
    emb.add_argument(
        "--stride", type=int, help="tokens between windows (default: half a window with --per-base, else a window)"
    )
    emb.add_argument("--resume", action="store_true", help="keep finished shards and skip them when rerun")
    emb.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_runtime(emb)
    emb.set_defaults(handler=run_embed)

    conv = commands.add_parser("convert", help="convert an original checkpoint to the multimolecule format")
    conv.add_argument("checkpoint", help="directory of the original checkpoint")
    conv.add_argument("output", help="directory to write the converted model to")
    conv.add_argument("-m", "--model", choices=model_types(), help="default: detected from the files")
    add_overwrite(conv)
    conv.set_defaults(handler=run_convert)

    about = commands.add_parser("info", help="describe a checkpoint")
    about.add_argument("model", nargs="?", help=MODEL_HELP)
    about.add_argument("--json", action="store_true", help="print JSON")
    about.set_defaults(handler=run_info)

    add_train(commands)
    add_evaluate(commands)
    add_predict(commands)
    return parser


def model_types() -> list[str]:
    """The registered model types (`multimolecule.models.MODELS`), read from the package folders, which are named
    after them, so that parsing the arguments does not import the models."""
    models = Path(__file__).resolve().parent / "models"
    return sorted(folder.name for folder in models.iterdir() if (folder / "convert_checkpoint.py").is_file())


def add_overwrite(parser: argparse.ArgumentParser) -> None:
    """The `--overwrite` flag of every command that writes; pass `args.overwrite` on to `seqio.atomic_output`."""
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output (default: refuse)")


def add_runtime(parser: argparse.ArgumentParser) -> None:
    """`--device` and `--dtype`; check them with `check_runtime(args)` before loading a model."""
    parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:1, mps or auto (default)")
    parser.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default=None, help="default float32")


def check_runtime(args: argparse.Namespace) -> None:
    """`--dtype` is known and `--device` is present here; else `InputError` naming the option and the choices."""
    check_dtype("--dtype", args.dtype)
    check_device("--device", args.device)


def run_fill_mask(args: argparse.Namespace) -> None:
    """Prints, per mask, the record id, the context around the mask and the predictions in that context (never
    the whole sequence: JSON holds `id`, `mask`, `context`, `base_probabilities` and `predictions`)."""
    check_positive("-k/--top-k", args.top_k)
    check_runtime(args)
    from . import api

    records = {f"seq{number}": sequence for number, sequence in enumerate(args.sequences, 1)}
    for name, sequence in (api.read_sequences(args.input) if args.input else {}).items():
        records[unique(name, records)] = sequence
    if not records:
        raise api.InputError("give masked sequences as arguments or with --input FILE")
    results = api.fill_mask(records, model=args.model, top_k=args.top_k, device=args.device, dtype=args.dtype)
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


def run_embed(args: argparse.Namespace) -> None:
    if args.input is not None and args.example:
        raise InputError("give an input file or --example, not both")
    if args.input is None and not args.example:
        raise InputError("give an input file (FASTA or one sequence per line) or --example")
    for option, value in (
        ("-b/--batch-size", args.batch_size),
        ("--max-tokens", args.max_tokens),
        ("--window", args.window),
        ("--stride", args.stride),
    ):
        check_positive(option, value)
    check_runtime(args)
    from . import api
    from .demo import EXAMPLE_FASTA

    api.check_output(args.output, args.per_base, args.overwrite)
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
        progress=not args.quiet,
        overwrite=args.overwrite,
        max_tokens=args.max_tokens,
        window=args.window,
        stride=args.stride,
        resume=args.resume,
    )
    if int(os.environ.get("RANK", "0")):
        return  # rank 0 reports
    count, hidden = result.embeddings.shape
    kind = "per-sequence and per-base" if result.per_base else "per-sequence"
    print(f"wrote {args.output}: {kind} embeddings of {count} sequences, hidden size {hidden}")
    for i, name in enumerate(result.ids[:10]):
        rows = f"  per-base {len(result.per_base[i])} x {hidden}" if result.per_base else ""
        print(f"  {name:<32} {result.lengths[i]:>9,} bp  norm {float(result.embeddings[i].norm()):6.2f}{rows}")
    if count > 10:
        print(f"  ... and {count - 10} more")


def run_convert(args: argparse.Namespace) -> None:
    from . import api

    print(api.convert(args.checkpoint, args.output, model=args.model, overwrite=args.overwrite))


def run_info(args: argparse.Namespace) -> None:
    from . import api

    details = api.info(args.model)
    if args.json:
        print(json.dumps(details, indent=2))
        return
    width = max(len(key) for key in details)
    for key, value in details.items():
        if value is not None:
            print(f"{key:<{width}}  {f'{value:,}' if isinstance(value, int) else value}")


# ---------------------------------------------------------------------------------- train / evaluate / predict

TRAIN_DESCRIPTION = """Fine-tune a DNA language model on labelled sequences.

--data DIR is a folder with train.csv, dev.csv and (optionally) test.csv, each with a header line: `sequence,label`
(or `sequence1,sequence2,label` for pairs of sequences). TSV, JSON-lines and Parquet files work too, and
--train/--dev/--test name files one by one. What to learn is read from the labels and printed first:
  whole numbers or words (one per sequence)  -> classification (2 classes: binary; more: multiclass)
  decimal numbers                            -> regression
  several label columns                      -> multi-label (0/1) or several regression targets
  a string with one character per base       -> one prediction per base, e.g. 0001112220
  a list of base pairs [[0, 9], [1, 8]]      -> base-pair (contact) prediction
The best model on the dev set is kept; training stops early when the dev score stops improving.
OUT then holds the model (load it with `multimolecule predict`/`evaluate` or transformers),
metrics.json (dev and test scores), log.jsonl (losses and dev scores) and train_config.yaml.

Settings come from defaults, then --config run.yaml, then the options below. Multi-GPU:
  torchrun --nproc-per-node 4 -m multimolecule train --data DIR --output-dir OUT
"""


def add_train(commands) -> None:
    train = commands.add_parser(
        "train",
        help="fine-tune a model on labelled sequences",
        description=TRAIN_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = train.add_argument_group("data")
    data.add_argument("--data", metavar="DIR", help="folder with train.csv, dev.csv and test.csv")
    data.add_argument("--train", metavar="FILE", help="training table (instead of --data, or to replace its file)")
    data.add_argument("--dev", metavar="FILE", help="validation table, used to pick the best model")
    data.add_argument("--test", metavar="FILE", help="test table, scored once at the end")
    data.add_argument(
        "--sequence-column", metavar="NAME", help="sequence column(s), comma-separated (default: sequence)"
    )
    data.add_argument("--label-column", metavar="NAME", help="label column(s), comma-separated (default: label)")
    data.add_argument(
        "--max-length", type=int, metavar="TOKENS", help="tokens per sequence (default: the model's trained length)"
    )
    data.add_argument(
        "--shifts",
        type=int,
        metavar="BASES",
        help="also train on each sequence started 1..BASES bases in, one drawn each time (default 5; 0: off)",
    )
    run = train.add_argument_group("model and output")
    run.add_argument("-m", "--model", help=MODEL_HELP)
    run.add_argument(
        "--pooling", choices=("mean", "cls"), help="sequence-level tasks: average the tokens (default) or use <cls>"
    )
    run.add_argument("-o", "--output-dir", metavar="OUT", help="where the fine-tuned model and its results go")
    run.add_argument("--config", metavar="FILE", help="YAML/JSON file of settings (any option below, with _)")
    run.add_argument("--resume", action="store_true", default=None, help="continue an interrupted run in OUT")
    run.add_argument("--overwrite", action="store_true", default=None, help="replace an existing OUT")
    optim = train.add_argument_group("training")
    optim.add_argument("--epochs", type=float, help="passes over the training data (default 10)")
    optim.add_argument("--max-steps", type=int, help="stop after this many optimiser steps (overrides --epochs)")
    optim.add_argument("-b", "--batch-size", type=int, help="sequences per step and device (default 32)")
    optim.add_argument(
        "--learning-rate", type=float, help="for the pretrained model (default 1e-4 x 768 / its hidden size)"
    )
    optim.add_argument("--head-learning-rate", type=float, help="for the new prediction head (default 1e-3)")
    optim.add_argument("--weight-decay", type=float, help="AdamW weight decay (default 0.01)")
    optim.add_argument("--seed", type=int, help="random seed; the same seed gives the same results (default 42)")
    optim.add_argument("--metric", help="dev score that picks the best model (default mcc; mse for regression)")
    optim.add_argument("--eval-steps", type=int, help="score the dev set every N steps (default: every epoch)")
    optim.add_argument(
        "--early-stopping-patience", type=int, help="dev scores without progress before stopping (default 3; 0: never)"
    )
    optim.add_argument(
        "--lora", action="store_true", default=None, help="train LoRA adapters instead of the whole model"
    )
    optim.add_argument("--lora-rank", type=int, help="LoRA rank (default 8)")
    optim.add_argument("--gradient-checkpointing", action="store_true", default=None, help="save memory, cost time")
    hardware = train.add_argument_group("hardware")
    hardware.add_argument("--device", help="auto (default), cpu, cuda or mps")
    hardware.add_argument(
        "--dtype", choices=("float32", "float16", "bfloat16"), help="float16/bfloat16: mixed precision"
    )
    hardware.add_argument("--threads", type=int, help="CPU threads when training on the CPU (default 1; 0: all)")
    hardware.add_argument("-q", "--quiet", action="store_true", help="no progress bar or log lines")
    train.set_defaults(handler=run_train)


def run_train(args: argparse.Namespace) -> None:
    for option, value in (("--max-steps", args.max_steps), ("-b/--batch-size", args.batch_size)):
        check_positive(option, value)
    for option, value in (("--eval-steps", args.eval_steps), ("--lora-rank", args.lora_rank)):
        check_positive(option, value)
    check_positive("--threads", args.threads, allow_zero=True)
    check_positive("--shifts", args.shifts, allow_zero=True)
    check_positive("--early-stopping-patience", args.early_stopping_patience, allow_zero=True)
    for option, value in (("--epochs", args.epochs), ("--learning-rate", args.learning_rate)):
        if value is not None and not value > 0:
            raise OptionError(f"{option} must be a number above 0, got {value}")
    check_dtype("--dtype", args.dtype)
    if args.device is not None:
        check_device("--device", args.device)
    from . import api

    settings = {
        name: getattr(args, name)
        for name in (
            "train", "dev", "test", "sequence_column", "label_column", "max_length", "shifts", "model", "pooling",
            "resume", "overwrite", "epochs", "max_steps", "batch_size", "learning_rate", "head_learning_rate",
            "weight_decay", "seed", "metric", "eval_steps", "early_stopping_patience", "lora", "lora_rank",
            "gradient_checkpointing", "device", "dtype", "threads",
        )
    }  # fmt: skip
    if args.quiet:
        settings["progress"] = False
    metrics = api.train(args.data, args.output_dir, config=args.config, **settings)
    from .training.engine import is_main_process

    if is_main_process():
        for split, values in metrics.items():
            print(f"{split}: " + "  ".join(f"{name} {value:.4f}" for name, value in values.items()))


def add_batching(parser: argparse.ArgumentParser) -> None:
    """`--max-tokens` and `-b/--batch-size` of the commands that run a fine-tuned model (as `embed` batches)."""
    parser.add_argument(
        "--max-tokens", type=int, help="tokens per forward pass, padding included (default 1024 on CPU, 32768 on GPU)"
    )
    parser.add_argument("-b", "--batch-size", type=int, help="at most this many sequences per forward pass")


def check_batching(args: argparse.Namespace) -> None:
    for option, value in (("-b/--batch-size", args.batch_size), ("--max-tokens", args.max_tokens)):
        if value is not None:
            check_positive(option, value)


def add_evaluate(commands) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="score a fine-tuned model on labelled data",
        description="Score a model made by `multimolecule train` on labelled sequences in its training layout.",
    )
    evaluate.add_argument("file", nargs="?", help="a labelled table (CSV/TSV/JSON lines/Parquet)")
    evaluate.add_argument("-m", "--model", required=True, help="the output directory of `multimolecule train`")
    evaluate.add_argument("--data", metavar="DIR", help="a folder with train/dev/test tables (instead of FILE)")
    evaluate.add_argument("--split", default="test", help="which split of --data to score (default test)")
    evaluate.add_argument("-o", "--output", help="also write the metrics to this JSON file")
    add_overwrite(evaluate)
    add_batching(evaluate)
    evaluate.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_runtime(evaluate)
    evaluate.set_defaults(handler=run_evaluate)


def run_evaluate(args: argparse.Namespace) -> None:
    if (args.file is None) == (args.data is None):
        raise InputError("give a labelled FILE or --data DIR (one of them)")
    check_batching(args)
    check_runtime(args)
    from . import api
    from .seqio import atomic_output, check_overwrite

    if args.output:
        check_overwrite(args.output, args.overwrite)
    metrics = api.evaluate(
        args.model,
        args.data,
        args.file,
        args.split,
        args.batch_size,
        args.device,
        args.dtype,
        not args.quiet,
        max_tokens=args.max_tokens,
    )
    if args.output:
        with atomic_output(args.output, args.overwrite) as temporary:
            temporary.write_text(json.dumps(metrics, indent=2) + "\n")
    for name, value in metrics.items():
        print(f"{name:<10} {value:.4f}")


def add_predict(commands) -> None:
    predict = commands.add_parser(
        "predict",
        help="predict labels or values with a fine-tuned model",
        description="Predict with a model made by `multimolecule train`: labels and probabilities of each class "
        "(or values; per base for per-base models) for each sequence of a FASTA file or table.",
    )
    predict.add_argument("input", help="FASTA (plain or .gz), one sequence per line, or a table with a sequence column")
    predict.add_argument("-m", "--model", required=True, help="the output directory of `multimolecule train`")
    predict.add_argument(
        "-o", "--output", required=True, help="predictions file: .csv, .tsv or .jsonl (per base: .jsonl)"
    )
    add_overwrite(predict)
    add_batching(predict)
    predict.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_runtime(predict)
    predict.set_defaults(handler=run_predict)


def run_predict(args: argparse.Namespace) -> None:
    check_batching(args)
    check_runtime(args)
    from . import api

    results = api.predict(
        args.input,
        args.model,
        args.output,
        args.batch_size,
        args.device,
        args.dtype,
        not args.quiet,
        args.overwrite,
        max_tokens=args.max_tokens,
    )
    print(f"wrote {args.output}: predictions for {len(results)} sequences")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 on success, 1 on error, 2 on bad arguments, 128 + the
    signal number after Ctrl-C or SIGTERM, which remove unfinished outputs: see `seqio.atomic_output`)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit:  # --help, --version, or a usage error already printed
        return exit.code if isinstance(exit.code, int) else 0
    try:
        with raise_on_sigterm():
            args.handler(args)
    except KeyboardInterrupt as error:  # Ctrl-C, or SIGTERM (`seqio.Terminated`)
        signum = getattr(error, "signum", signal.SIGINT)
        print(f"error: interrupted ({signal.Signals(signum).name}); unfinished outputs removed", file=sys.stderr)
        return 128 + signum
    except BrokenPipeError:
        return 0
    except Exception as error:  # one line, never a traceback, unless --debug
        if args.debug:
            raise
        print(f"error: {one_line(error)}", file=sys.stderr)
        return 2 if isinstance(error, OptionError) else 1
    return 0


def one_line(error: BaseException) -> str:
    message = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, (InputError, OSError, ConversionError)):
        return message
    return f"{type(error).__name__}: {message} (rerun with --debug for the traceback)"


if __name__ == "__main__":
    sys.exit(main())
