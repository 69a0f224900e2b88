"""`multimolecule train`: fine-tuning, with one option per setting of `TrainConfig` (its defaults shown in help)."""

from __future__ import annotations

import argparse

from ..training.settings import SETTINGS
from ..utils.distributed import is_main_process
from .common import MODEL_HELP, add_command, add_deprecated, add_settings, setting_names

DESCRIPTION = """Fine-tune a DNA language model on labelled sequences.

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

SHORT_FLAGS = {"model": "-m", "batch_size": "-b"}
METAVARS = {"data": "DIR", "train": "FILE", "dev": "FILE", "test": "FILE", "output_dir": "OUT", "max_length": "TOKENS"}
METAVARS |= {"shifts": "BASES", "sequence_column": "NAME", "label_column": "NAME"}
HELP = {"model": MODEL_HELP}  # the command line's wording, where it says more than the setting's


def add(commands) -> None:
    parser = add_command(
        commands,
        "train",
        run,
        help="fine-tune a model on labelled sequences",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_settings(parser, SETTINGS, SHORT_FLAGS, METAVARS, HELP)
    add_deprecated(parser, "-o", use="--output-dir (-o names output files)", dest="output_dir")


def run(args: argparse.Namespace) -> None:
    from .. import api  # here, not at the top: `--help` imports no torch

    names = [name for name in setting_names(SETTINGS) if name not in ("data", "output_dir")]
    metrics = api.train(
        args.data, args.output_dir, config=args.settings_file, **{name: getattr(args, name) for name in names}
    )
    if is_main_process():
        for split, values in metrics.items():
            print(f"{split}: " + "  ".join(f"{name} {value:.4f}" for name, value in values.items()))
