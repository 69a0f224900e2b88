"""`multimolecule pretrain`: masked-LM pretraining on genomes, with one option per setting of `PretrainConfig`
(`pretraining.settings.SETTINGS`, its defaults shown in help), generated as `train`'s are."""

from __future__ import annotations

import argparse

from ..pretraining.settings import SETTINGS
from ..utils.distributed import is_main_process
from .common import add_command, add_settings, setting_names

DESCRIPTION = """Masked-LM pretraining on genomes (FASTA files or folders, plain or gzip), streamed in windows
of the model's trained length, with new random offsets each epoch and both strands. Continue a checkpoint
(--model) or start from scratch (--config dnabert2 --tokenizer DIR, --config nucleotide_transformer, or a
config.json), with the model cards' masking: 15% of tokens, of those 80% <mask>, 10% random, 10% kept.

OUT then holds the best checkpoint (by held-out masked-token loss) as a model directory with its tokenizer,
metrics.json (held-out masked-token accuracy, perplexity, first-base accuracy and the most-frequent-token
baselines), log.jsonl, pretrain_config.yaml and checkpoints/. Settings come from defaults, then --settings
FILE (YAML/JSON), then the options below. Multi-GPU:
  torchrun --nproc-per-node 4 -m multimolecule pretrain --data GENOMES --model M --output-dir OUT
"""

SHORT_FLAGS = {"model": "-m", "output_dir": "-o", "batch_size": "-b"}
METAVARS = {"data": "GENOMES", "eval_data": "GENOMES", "eval_contigs": "NAMES", "output_dir": "OUT"}
METAVARS |= {"max_length": "TOKENS", "max_tokens": "TOKENS", "model": "MODEL", "config": "CONFIG"}
METAVARS |= {"tokenizer": "DIR"}


def add(commands) -> None:
    parser = add_command(
        commands,
        "pretrain",
        run,
        help="pretrain a model on genomes (masked language modelling)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_settings(parser, SETTINGS, "--settings", SHORT_FLAGS, METAVARS, {})


def run(args: argparse.Namespace) -> None:
    from .. import api  # here, not at the top: `--help` imports no torch

    metrics = api.pretrain(settings=args.settings, **{name: getattr(args, name) for name in setting_names(SETTINGS)})
    if is_main_process():
        print("held-out: " + "  ".join(f"{name} {value:.4g}" for name, value in metrics.items()))
