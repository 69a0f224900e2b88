"""The settings of `multimolecule train` as plain data: defaults, types and help texts.

`TrainConfig` (`multimolecule.training.config`) is built from this table, and so are the command line's options;
this module imports nothing (chanfig imports torch), so that `multimolecule train --help` stays quick.
"""

from __future__ import annotations

from typing import Any, NamedTuple

# LoRA adapters go, by default, into the Linear layers the model family declares (`ModelPackage.lora_targets`),
# named as in the originals and matched by PEFT as name suffixes.


class Setting(NamedTuple):
    """One setting of `TrainConfig`: its default, its type, and what it does (the `train --help` text)."""

    default: Any
    type: type
    help: str


# Every setting of `multimolecule train`, in sections: the one source of `TrainConfig`'s defaults and of the
# command line's options and help (which shows these defaults).
SETTINGS: dict[str, dict[str, Setting]] = {
    "data": {
        "data": Setting(None, str, "a folder with train.csv, dev.csv and (optionally) test.csv"),
        "train": Setting(None, str, "the training table (instead of --data, or to replace its file)"),
        "dev": Setting(None, str, "the validation table, used to pick the best model"),
        "test": Setting(None, str, "the test table, scored once at the end"),
        "sequence_column": Setting(None, str, "sequence column(s), comma-separated (default: sequence)"),
        "label_column": Setting(None, str, "label column(s), comma-separated (default: label, else the others)"),
        "max_length": Setting(None, int, "tokens per sequence, <cls>/<eos> included (default: the trained length)"),
        "shifts": Setting(5, int, "also train on each sequence started 1..N bases in, one drawn each time; 0: off"),
    },
    "model and output": {
        "model": Setting("dnabert2-demo", str, "a model directory, Hub id, or bundled demo (dnabert2-demo, nt-demo)"),
        "pooling": Setting("mean", str, "sequence-level tasks: average the tokens (mean) or use <cls> (cls)"),
        "output_dir": Setting(None, str, "where the fine-tuned model and its results go"),
        "resume": Setting(False, bool, "continue an interrupted run in the output directory"),
        "overwrite": Setting(False, bool, "replace an existing output directory"),
    },
    "training": {
        "epochs": Setting(10.0, float, "passes over the training data"),
        "max_steps": Setting(-1, int, "stop after this many optimiser steps (overrides epochs; -1: off)"),
        "batch_size": Setting(32, int, "sequences per step and device"),
        "eval_batch_size": Setting(64, int, "sequences per evaluation step and device"),
        "gradient_accumulation_steps": Setting(1, int, "batches per optimiser step"),
        "learning_rate": Setting(None, float, "for the pretrained model (default: 1e-4 x 768 / its hidden size)"),
        "head_learning_rate": Setting(1e-3, float, "for the new prediction head"),
        "weight_decay": Setting(0.01, float, "AdamW weight decay"),
        "warmup_ratio": Setting(0.1, float, "warm-up, as a fraction of the steps"),
        "scheduler": Setting("linear", str, "learning-rate schedule (transformers' lr_scheduler_type)"),
        "seed": Setting(42, int, "random seed; the same seed gives the same results"),
        "eval_steps": Setting(None, int, "score the dev set (and save) every N steps (default: every epoch)"),
        "metric": Setting(None, str, "dev score that picks the best model (default: mcc; mse for regression)"),
        "early_stopping_patience": Setting(3, int, "dev scores without progress before stopping; 0: never"),
        "save_total_limit": Setting(2, int, "checkpoints kept"),
        "logging_steps": Setting(10, int, "log the training loss every N steps"),
        "lora": Setting(False, bool, "train LoRA adapters instead of the whole model"),
        "lora_rank": Setting(8, int, "LoRA rank"),
        "lora_alpha": Setting(16, int, "LoRA scaling"),
        "lora_dropout": Setting(0.05, float, "LoRA dropout"),
        "lora_target_modules": Setting(None, list, "layers that get LoRA adapters (default: the model family's)"),
        "gradient_checkpointing": Setting(False, bool, "save memory, cost time"),
    },
    "hardware": {
        "dtype": Setting("float32", str, "float16/bfloat16: mixed precision; auto: bfloat16 on a GPU that has it"),
        "device": Setting("auto", str, "auto, cpu, cuda, cuda:N or mps"),
        "threads": Setting(1, int, "CPU threads when training on the CPU; 0: torch's default, all cores"),
        "num_workers": Setting(0, int, "data loader worker processes"),
        "progress": Setting(True, bool, "progress bar and log lines"),
    },
}
