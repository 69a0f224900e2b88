"""Run settings for fine-tuning, as a `chanfig` config: defaults, then a YAML/JSON file, then keyword overrides."""

from __future__ import annotations

import os
from pathlib import Path

import chanfig

from ..seqio import InputError

# LoRA adapters go into the attention projections and the feed-forward layers of both model families (Linear
# layers named so in every layer of DnaBert2 and the Nucleotide Transformer), matched by PEFT as name suffixes.
LORA_TARGET_MODULES = ["query", "key", "value", "up_proj", "down_proj"]


class TrainConfig(chanfig.Config):
    """Every setting of `multimolecule train`, with its default.

    Example:
        >>> config = TrainConfig()
        >>> config.model, config.batch_size, config.lora
        ('dnabert2-demo', 32, False)
        >>> resolve_config(None, {"epochs": 1, "seed": None}).epochs
        1
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # model and data
        self.model = "dnabert2-demo"  # a model directory, Hub id, or bundled demo
        self.data = None  # a folder with train.csv, dev.csv[, test.csv]
        self.train = None  # or the splits' files, named one by one
        self.dev = None
        self.test = None
        self.sequence_column = None  # default: "sequence", or "sequence1,sequence2" for pairs
        self.label_column = None  # default: "label", else every other column (comma-separated list)
        self.max_length = None  # tokens per sequence, <cls>/<eos> included; default: the model's trained length
        self.pooling = "mean"  # sequence-level tasks: "mean" over the tokens, or "cls" (the first token's state)
        self.shifts = 5  # training sequences are also seen starting 1..shifts bases in (other k-mer frames); 0: off
        self.output_dir = None
        # optimisation
        self.epochs = 10.0
        self.max_steps = -1  # > 0 overrides epochs
        self.batch_size = 32
        self.eval_batch_size = 64
        self.gradient_accumulation_steps = 1
        self.learning_rate = None  # the pretrained model; default: width_scaled_learning_rate(hidden size)
        self.head_learning_rate = 1e-3  # the new prediction head
        self.weight_decay = 0.01
        self.warmup_ratio = 0.1
        self.scheduler = "linear"
        self.seed = 42
        # evaluation and checkpoints
        self.eval_steps = None  # evaluate (and save) every N steps; default: once per epoch
        self.metric = None  # dev metric choosing the best checkpoint; default: mcc (classification), mse (regression)
        self.early_stopping_patience = 3  # evaluations without improvement before stopping; 0 disables
        self.save_total_limit = 2
        self.logging_steps = 10
        # model variants and hardware
        self.lora = False
        self.lora_rank = 8
        self.lora_alpha = 16
        self.lora_dropout = 0.05
        self.lora_target_modules = list(LORA_TARGET_MODULES)
        self.gradient_checkpointing = False
        self.dtype = "float32"  # float16 / bfloat16: mixed-precision training where the device supports it
        self.device = "auto"  # auto, cpu, cuda, mps
        self.threads = 1  # CPU threads for training on the CPU (0: torch's default, all cores)
        self.num_workers = 0
        self.resume = False
        self.overwrite = False
        self.progress = True


# The pretrained model's default learning rate at the width of BERT-base; narrower models take larger steps.
BASE_LEARNING_RATE, BASE_WIDTH = 1e-4, 768


def width_scaled_learning_rate(hidden_size: int) -> float:
    """The default learning rate of a pretrained model `hidden_size` wide: 1e-4 at 768 (DNABERT-2), scaled by
    768 / `hidden_size`, the inverse-width rule of Adam learning rates across model widths (muP).

    Example:
        >>> width_scaled_learning_rate(768), width_scaled_learning_rate(128), width_scaled_learning_rate(2560)
        (0.0001, 0.0006, 3e-05)
    """
    return round(BASE_LEARNING_RATE * BASE_WIDTH / hidden_size, 8)


def resolve_config(
    config_file: str | os.PathLike | None = None,
    overrides: dict | None = None,
    config_class: type[chanfig.Config] = TrainConfig,
) -> chanfig.Config:
    """Defaults of `config_class`, then `config_file` (YAML or JSON), then the `overrides` that are not None.

    Unknown keys are an error (a typo must not silently fall back to a default).
    """
    config = config_class()
    known = set(config.keys())
    if config_file is not None:
        path = Path(config_file)
        if not path.is_file():
            raise InputError(f"config file not found: {config_file}")
        try:
            loaded = chanfig.Config.load(path)
        except Exception as error:  # YAML/JSON syntax errors come in many types
            raise InputError(f"cannot read config file {config_file}: {error}") from error
        values = {str(k).replace("-", "_"): v for k, v in loaded.dict().items()}
        check_keys(values, known, str(config_file))
        config.merge(values)
    values = {k.replace("-", "_"): v for k, v in (overrides or {}).items() if v is not None}
    values = {k: str(v) if isinstance(v, os.PathLike) else v for k, v in values.items()}
    check_keys(values, known, "overrides")
    config.merge(values)
    return config


def check_keys(values: dict, known: set, where: str) -> None:
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"unknown setting(s) in {where}: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
