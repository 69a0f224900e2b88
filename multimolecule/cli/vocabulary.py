"""The command line's one option vocabulary: what each option shared by several commands means, and its default.

An option means the same thing, in the same unit, in every command that has it, with the same default, except
the `BY_COMMAND` ones, whose default is the command's (a training recipe's learning rate is not an inference
batch's). `table()` is the options table of docs/cli.md; tests/cli/test_vocabulary.py checks every command's
parser against `SHARED` and that page against `table()`. Print it with

    python -c "from multimolecule.cli.vocabulary import table; print(table())"
"""

from __future__ import annotations

import argparse
import re

# Every option that more than one command has: long option -> its meaning, with its unit.
SHARED = {
    "--model": "the model: a model directory, Hub id (ours or an original one) or bundled demo (`dnabert2-demo`, "
    "`nt-demo`); in `convert` the original checkpoint to convert, in `predict`/`evaluate` a `train` output",
    "--quiet": "no progress bar or log lines (errors, warnings and deprecation notes still show)",
    "--overwrite": "replace an existing output file or folder (without it, an existing output is refused)",
    "--device": "where the model runs: `auto` (the first accelerator), `cpu`, `cuda`, `cuda:N` or `mps`",
    "--dtype": "precision: `float32` (`fp32`), `float16` (`fp16`) or `bfloat16` (`bf16`); `train`/`pretrain` "
    "train half precision as mixed precision and also take `auto` (`bfloat16` on a GPU that has it)",
    "--batch-size": "sequences or windows per batch: in inference a cap on the token-budget batches, in "
    "`train`/`pretrain` per device and step",
    "--max-tokens": "tokens per batch and device, padding included (a budget filled longest first)",
    "--output": "the output file; its suffix picks the format",
    "--output-dir": "the output folder",
    "--resume": "continue an interrupted run into the same output, keeping what is finished",
    "--data": "the data: a folder of train/dev/test tables (`train`, `evaluate`), or FASTA files or folders, "
    "comma-separated (`pretrain`, `train-tokenizer`)",
    "--reverse-complement": "also run the reverse-complement strand and average the two",
    "--json": "print JSON instead of a table",
    "--record": "the record of a FASTA file to read (default: the first)",
    "--pooling": "the per-sequence vector: `mean` of the sequence's tokens, `mean-all` of every token (`<cls>` and "
    "`<eos>` too) or the `<cls>` token's",
    "--max-length": "tokens per sequence or window, `<cls>`/`<eos>` included (default: the trained length)",
    "--config": "a YAML/JSON file of settings (any option, with `_`); options given on the command line win",
    "--max-steps": "optimiser steps to stop after",
    "--gradient-accumulation-steps": "batches whose gradients are summed per optimiser step",
    "--learning-rate": "peak learning rate",
    "--weight-decay": "AdamW weight decay",
    "--warmup-ratio": "warm-up, as a fraction of the steps",
    "--scheduler": "learning-rate schedule (transformers' `lr_scheduler_type`)",
    "--seed": "random seed; the same seed gives the same results",
    "--eval-steps": "evaluate (and save) every N steps",
    "--save-total-limit": "checkpoints kept",
    "--logging-steps": "log the training loss every N steps",
    "--gradient-checkpointing": "recompute activations in the backward pass: less memory, more time",
    "--threads": "CPU threads when training on the CPU; 0: torch's default, all cores",
    "--num-workers": "data loader worker processes",
    "--score": "a score to compute, repeatable: `llr` (default), `pll`, `cosine`, `l2`, `dot`, `head`; or `tracks` "
    "alone (a model with track heads)",
    "--species": "the species a species-conditioned model (a post-trained NTv3) is conditioned on, one of its own; "
    "such a model needs it, any other refuses it",
    "--tracks": "track names of the `--species`, comma-separated: `predict-tracks` writes only these (default: all); "
    "`--score tracks` writes one delta column each, besides the summary over all",
    "--radius": "`--score tracks`: bases either side of the variant whose track deltas are averaged",
    "--window": "bases per window, centred on the variant (default: the trained length)",
    "--layer": "the hidden state of `cosine`/`l2`/`dot` (-1: the last)",
}

# Shared options whose default is the command's: {option: the defaults}.
BY_COMMAND = {
    "--model": "`dnabert2-demo`; required in `convert`, `predict`, `evaluate`; `pretrain`: none (or `--architecture`)",
    "--batch-size": "inference: no cap; `train`, `pretrain`: 32",
    "--max-tokens": "inference: 1024 on a CPU, 32768 on a GPU; `pretrain`: off (`--batch-size` windows)",
    "--max-steps": "`train`: off (`--epochs`); `pretrain`: 10000",
    "--learning-rate": "`train`: 1e-4 x 768 / the hidden size; `pretrain`: 5e-4",
    "--weight-decay": "`train`: 0.01; `pretrain`: 1e-5",
    "--warmup-ratio": "`train`: 0.1; `pretrain`: 0.06",
    "--eval-steps": "`train`: every epoch; `pretrain`: a tenth of `--max-steps`",
    "--logging-steps": "`train`: 10; `pretrain`: 50",
    "--pooling": "`embed`: the model's (`mean-all` for DNABERT-S, else `mean`); `train`: `mean`",
}


DEFAULT_IN_HELP = re.compile(r"\s*\(default:? (?P<default>[^()]*(\([^()]*\)[^()]*)*)\)$")


def commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """{command: its parser} of the `multimolecule` parser (`cli.build_parser()`)."""
    (subparsers,) = (action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return dict(subparsers.choices)


def options(parser: argparse.ArgumentParser) -> dict[str, dict[str, argparse.Action]]:
    """{long option: {command: its action}} of every shown option (not --help, not the hidden old spellings)."""
    found: dict[str, dict[str, argparse.Action]] = {}
    for command, subparser in commands(parser).items():
        for action in subparser._actions:
            if action.option_strings and action.help is not argparse.SUPPRESS and action.dest != "help":
                found.setdefault(max(action.option_strings, key=len), {})[command] = action
    return found


def default(subparser: argparse.ArgumentParser, action: argparse.Action):
    """The value an option has when not given: its setting's default in `train`/`pretrain` (whose options default
    to None so that a settings file is not overridden), else the option's own."""
    settings = getattr(subparser, "setting_defaults", {})
    if action.dest in settings:
        value = settings[action.dest]
        return not value if isinstance(action, argparse._StoreFalseAction) else value
    return not action.default if isinstance(action, argparse._StoreFalseAction) else action.default


def shown(value) -> str:
    """A default as the table shows it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return " ".join(map(str, value))
    return f"`{value}`"


def table(parser: argparse.ArgumentParser | None = None) -> str:
    """The options table of docs/cli.md: every option of every command, its meaning and its default."""
    if parser is None:
        from . import build_parser

        parser = build_parser()
    parsers = commands(parser)
    rows = ["| option | commands | meaning | default |", "|---|---|---|---|"]
    for option, actions in sorted(options(parser).items(), key=lambda item: item[0].lstrip("-")):
        command, action = next(iter(actions.items()))
        spelling = "/".join(f"`{flag}`" for flag in sorted(action.option_strings, key=len))
        meaning = SHARED.get(option) or " ".join((action.help or "").split())
        value = BY_COMMAND.get(option) or shown(default(parsers[command], action))
        stated = DEFAULT_IN_HELP.search(meaning)
        if stated and option not in SHARED:  # the help's "(default: X)" goes to the default column
            meaning, value = meaning[: stated.start()], value or stated["default"]
        where = "all" if len(actions) == len(parsers) else ", ".join(f"`{name}`" for name in actions)
        rows.append(f"| {spelling} | {where} | {meaning.replace('|', '/')} | {value} |")
    return "\n".join(rows)
