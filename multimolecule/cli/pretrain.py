"""`multimolecule pretrain`: masked-LM pretraining on genomes, with one option per setting of `PretrainConfig`
(`pretraining.settings.SETTINGS`, its defaults shown in help), generated as `train`'s are."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..pretraining.settings import SETTINGS
from ..utils.distributed import is_main_process
from .common import add_command, add_deprecated, add_settings, deprecation, model_types, setting_names

DESCRIPTION = """Masked-LM pretraining on genomes (FASTA files or folders, plain or gzip), streamed in windows
of the model's trained length, with new random offsets each epoch and both strands. Continue a checkpoint
(--model) or start from scratch (--architecture FAMILY, a family's folder name, with --tokenizer DIR
where the family has no standard vocabulary, or a config.json), with the model cards' masking: 15% of
tokens, of those 80% <mask>, 10% random, 10% kept.

OUT then holds the best checkpoint (by held-out masked-token loss) as a model directory with its tokenizer,
metrics.json (held-out masked-token accuracy, perplexity, first-base accuracy and the most-frequent-token
baselines), log.jsonl, pretrain_config.yaml and checkpoints/. Settings come from defaults, then --config
FILE (YAML/JSON), then the options below. Multi-GPU:
  torchrun --nproc-per-node 4 -m multimolecule pretrain --data GENOMES --model M --output-dir OUT
"""

SHORT_FLAGS = {"model": "-m", "batch_size": "-b"}
METAVARS = {"data": "GENOMES", "eval_data": "GENOMES", "eval_contigs": "NAMES", "output_dir": "OUT"}
METAVARS |= {"max_length": "TOKENS", "max_tokens": "TOKENS", "model": "MODEL", "config": "CONFIG"}
METAVARS |= {"tokenizer": "DIR"}
FLAGS = {"config": "--architecture"}  # the setting `config` (from scratch); --config is the settings file


def architecture(value: str | None) -> bool:
    """Whether a `--config` value names an architecture (the old meaning of `pretrain --config`: a family, a
    config.json or its folder) rather than a YAML/JSON settings file."""
    return value is not None and (value in model_types() or Path(value).is_dir() or Path(value).name == "config.json")


def add(commands) -> None:
    parser = add_command(
        commands,
        "pretrain",
        run,
        help="pretrain a model on genomes (masked language modelling)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_settings(parser, SETTINGS, SHORT_FLAGS, METAVARS, {}, FLAGS)
    add_deprecated(parser, "-o", use="--output-dir (-o names output files)", dest="output_dir")
    add_deprecated(parser, "--settings", use="--config (the settings file, as in train)", dest="settings_file")


def run(args: argparse.Namespace) -> None:
    from .. import api  # here, not at the top: `--help` imports no torch

    options = {name: getattr(args, name) for name in setting_names(SETTINGS)}
    settings = args.settings_file
    if architecture(settings) and options["config"] is None:  # the old `--config dnabert2`
        deprecation("multimolecule pretrain --config ARCHITECTURE", "--architecture ARCHITECTURE")
        options["config"], settings = settings, None
    metrics = api.pretrain(settings=settings, **options)
    if is_main_process():
        print("held-out: " + "  ".join(f"{name} {value:.4g}" for name, value in metrics.items()))
