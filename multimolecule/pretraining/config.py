"""Run settings for pretraining, as a `chanfig` config (defaults, then a YAML/JSON file, then keyword overrides),
and the command-line help of each setting, from which `multimolecule pretrain` builds its options."""

from __future__ import annotations

import os

import chanfig

from ..seqio import InputError
from ..training.config import resolve_config

# Tokens per window (specials included) of each family's published pretraining, for a model built from scratch:
# DNABERT-2 was pre-trained on 128-token sequences (its paper), the Nucleotide Transformer on 1,000 (its card).
TRAINED_LENGTHS = {"dnabert2": 128, "nucleotide_transformer": 1000}


class PretrainConfig(chanfig.Config):
    """Every setting of `multimolecule pretrain`, with its default.

    Example:
        >>> config = PretrainConfig()
        >>> config.mask_probability, config.max_steps, config.eval_fraction
        (0.15, 10000, 0.05)
        >>> settings = {"data": "genome.fa", "model": "nt-demo", "output_dir": "out", "max_steps": 5}
        >>> resolve_pretrain_config(None, settings).max_steps
        5
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # data
        self.data = None  # FASTA files or folders (plain or gzip), comma-separated
        self.eval_data = None  # held-out FASTA files or folders; default: eval_contigs or eval_fraction of `data`
        self.eval_contigs = None  # contig names (comma-separated) held out whole
        self.eval_fraction = 0.05  # else the last fraction of every contig is held out
        self.eval_windows = 1000  # held-out windows scored per evaluation (the first ones, the same every time)
        self.max_length = None  # tokens per window, specials included; default: the model's trained length
        # model
        self.model = None  # continued pretraining: a model directory, Hub id or demo
        self.config = None  # from scratch: a family name (dnabert2, nucleotide_transformer), config.json or folder
        self.tokenizer = None  # from scratch: a tokenizer folder (e.g. from train-tokenizer)
        self.hidden_size = None  # from scratch: sizes over the config's (None: keep them)
        self.num_hidden_layers = None
        self.num_attention_heads = None
        self.intermediate_size = None
        self.dropout = 0.0  # from scratch: hidden and attention dropout
        # masking
        self.mask_probability = 0.15
        self.output_dir = None
        # optimisation
        self.max_steps = 10000
        self.batch_size = 32  # windows per step and device
        self.max_tokens = None  # or a token budget per step and device: max_tokens // window windows
        self.gradient_accumulation_steps = 1
        self.learning_rate = 5e-4  # DNABERT-2's card
        self.weight_decay = 1e-5
        self.adam_beta1 = 0.9
        self.adam_beta2 = 0.98
        self.adam_epsilon = 1e-6
        self.warmup_ratio = 0.06
        self.scheduler = "linear"
        self.max_grad_norm = 1.0
        self.seed = 42
        # evaluation and checkpoints
        self.eval_steps = None  # default: a tenth of max_steps
        self.save_total_limit = 2
        self.logging_steps = 50
        # hardware
        self.gradient_checkpointing = False
        self.dtype = "auto"  # bfloat16 on a GPU that supports it, else float32
        self.device = "auto"
        self.threads = 1  # CPU threads (0: torch's default, all cores)
        self.num_workers = 0
        self.resume = False
        self.overwrite = False
        self.progress = True


# setting -> (type, help) of its command-line option; booleans are flags
OPTIONS: dict[str, tuple[type, str]] = {
    "data": (str, "FASTA files or folders (plain or gzip), comma-separated"),
    "eval_data": (str, "held-out FASTA files or folders (default: --eval-contigs or --eval-fraction of --data)"),
    "eval_contigs": (str, "contig names held out whole, comma-separated"),
    "eval_fraction": (float, "the last fraction of every contig held out for evaluation (default 0.05)"),
    "eval_windows": (int, "held-out windows scored per evaluation (default 1000)"),
    "max_length": (int, "tokens per window, specials included (default: the model's trained length)"),
    "model": (str, "continued pretraining from this model directory, Hub id or demo"),
    "config": (str, "from scratch: a family name (dnabert2, nucleotide_transformer), a config.json or its folder"),
    "tokenizer": (str, "from scratch: a tokenizer folder (from train-tokenizer); default: the config's folder"),
    "hidden_size": (int, "from scratch: hidden size (default: the config's)"),
    "num_hidden_layers": (int, "from scratch: layers"),
    "num_attention_heads": (int, "from scratch: attention heads"),
    "intermediate_size": (int, "from scratch: feed-forward size"),
    "dropout": (float, "from scratch: hidden and attention dropout (default 0)"),
    "mask_probability": (float, "share of tokens chosen for prediction (default 0.15)"),
    "output_dir": (str, "where the model, its tokenizer, metrics and checkpoints go"),
    "max_steps": (int, "optimiser steps (default 10000)"),
    "batch_size": (int, "windows per step and device (default 32)"),
    "max_tokens": (int, "token budget per step and device instead of --batch-size"),
    "gradient_accumulation_steps": (int, "steps whose gradients are summed before each update (default 1)"),
    "learning_rate": (float, "peak learning rate (default 5e-4)"),
    "weight_decay": (float, "AdamW weight decay (default 1e-5)"),
    "adam_beta1": (float, "AdamW beta1 (default 0.9)"),
    "adam_beta2": (float, "AdamW beta2 (default 0.98)"),
    "adam_epsilon": (float, "AdamW epsilon (default 1e-6)"),
    "warmup_ratio": (float, "share of the steps spent warming up (default 0.06)"),
    "scheduler": (str, "learning-rate schedule: linear (default), cosine, inverse_sqrt, constant_with_warmup..."),
    "max_grad_norm": (float, "gradient clipping norm (default 1)"),
    "seed": (int, "random seed (default 42)"),
    "eval_steps": (int, "evaluate and save every N steps (default: a tenth of --max-steps)"),
    "save_total_limit": (int, "checkpoints kept, the best one included (default 2)"),
    "logging_steps": (int, "log the training loss every N steps (default 50)"),
    "gradient_checkpointing": (bool, "save memory, cost time"),
    "dtype": (str, "auto (default: bfloat16 on a GPU, else float32), float32, float16 or bfloat16"),
    "device": (str, "auto (default), cpu, cuda or mps"),
    "threads": (int, "CPU threads when training on the CPU (default 1; 0: all)"),
    "num_workers": (int, "data-loading processes (default 0: in the training process)"),
    "resume": (bool, "continue an interrupted run in OUT"),
    "overwrite": (bool, "replace an existing OUT"),
}


def resolve_pretrain_config(config_file: str | os.PathLike | None = None, overrides: dict | None = None):
    """Defaults, then `config_file` (YAML or JSON), then the `overrides` that are not None; then checked."""
    config = resolve_config(config_file, overrides, PretrainConfig)
    check_config(config)
    return config


def check_config(config: PretrainConfig) -> None:
    """One-line `InputError`s for settings out of range, before any data is read."""
    if not config.data:
        raise InputError("give the genomes to train on (--data FASTA files or folders)")
    if not config.output_dir:
        raise InputError("give an output directory (--output-dir)")
    if bool(config.model) == bool(config.config):
        raise InputError("give either --model (continued pretraining) or --config (from scratch), not both")
    if not 0 < float(config.mask_probability) < 1:
        raise InputError(f"mask_probability must be between 0 and 1 (exclusive), got {config.mask_probability}")
    if not 0 <= float(config.eval_fraction) < 1:
        raise InputError(f"eval_fraction must be at least 0 and below 1, got {config.eval_fraction}")
    positive = ("max_steps", "batch_size", "gradient_accumulation_steps", "eval_windows", "save_total_limit")
    for name in (*positive, "max_length", "max_tokens", "eval_steps", "logging_steps"):
        value = config[name]
        if (value is not None or name in positive) and (not isinstance(value, int) or value < 1):
            raise InputError(f"{name} must be a whole number above 0, got {value!r}")
    for name in ("threads", "num_workers"):
        if not isinstance(config[name], int) or config[name] < 0:
            raise InputError(f"{name} must be a whole number, 0 or more, got {config[name]!r}")
    if not float(config.learning_rate) > 0:
        raise InputError(f"learning_rate must be above 0, got {config.learning_rate}")
