"""The settings of `multimolecule pretrain` as plain data: defaults, types and help texts.

`PretrainConfig` (`multimolecule.pretraining.config`) is built from this table, and so are the command line's
options, by the generator that builds `train`'s (`cli.common.add_settings`); this module imports only the
`Setting` record of the fine-tuning table (nothing heavy), so that `multimolecule pretrain --help` stays quick.
"""

from __future__ import annotations

from ..training.settings import Setting

# Every setting of `multimolecule pretrain`, in sections: the one source of `PretrainConfig`'s defaults and of the
# command line's options and help (which shows these defaults).
SETTINGS: dict[str, dict[str, Setting]] = {
    "data": {
        "data": Setting(None, str, "FASTA files or folders (plain or gzip), comma-separated"),
        "eval_data": Setting(None, str, "held-out FASTA files or folders (default: --eval-contigs or --eval-fraction)"),
        "eval_contigs": Setting(None, str, "contig names held out whole, comma-separated"),
        "eval_fraction": Setting(0.05, float, "the last fraction of every contig held out for evaluation"),
        "eval_windows": Setting(1000, int, "held-out windows scored per evaluation (the first ones, each time)"),
        "max_length": Setting(None, int, "tokens per window, specials included (default: the model's trained length)"),
    },
    "model and output": {
        "model": Setting(None, str, "continued pretraining from this model directory, Hub id or demo"),
        "config": Setting(None, str, "from scratch: a model family (its folder name), a config.json or its folder"),
        "tokenizer": Setting(None, str, "from scratch: a tokenizer folder (default: beside the config)"),
        "hidden_size": Setting(None, int, "from scratch: hidden size (default: the config's)"),
        "num_hidden_layers": Setting(None, int, "from scratch: layers (default: the config's)"),
        "num_attention_heads": Setting(None, int, "from scratch: attention heads (default: the config's)"),
        "intermediate_size": Setting(None, int, "from scratch: feed-forward size (default: the config's)"),
        "dropout": Setting(0.0, float, "from scratch: hidden and attention dropout"),
        "output_dir": Setting(None, str, "where the model, its tokenizer, metrics and checkpoints go"),
        "resume": Setting(False, bool, "continue an interrupted run in the output directory"),
        "overwrite": Setting(False, bool, "replace an existing output directory"),
    },
    "training": {
        "mask_probability": Setting(0.15, float, "share of tokens chosen for prediction"),
        "max_steps": Setting(10000, int, "optimiser steps"),
        "batch_size": Setting(32, int, "windows per step and device"),
        "max_tokens": Setting(None, int, "token budget per step and device instead of --batch-size"),
        "gradient_accumulation_steps": Setting(1, int, "steps whose gradients are summed before each update"),
        "learning_rate": Setting(5e-4, float, "peak learning rate (DNABERT-2's card)"),
        "weight_decay": Setting(1e-5, float, "AdamW weight decay"),
        "adam_beta1": Setting(0.9, float, "AdamW beta1"),
        "adam_beta2": Setting(0.98, float, "AdamW beta2"),
        "adam_epsilon": Setting(1e-6, float, "AdamW epsilon"),
        "warmup_ratio": Setting(0.06, float, "warm-up, as a fraction of the steps"),
        "scheduler": Setting("linear", str, "learning-rate schedule (transformers' lr_scheduler_type)"),
        "max_grad_norm": Setting(1.0, float, "gradient clipping norm"),
        "seed": Setting(42, int, "random seed"),
        "eval_steps": Setting(None, int, "evaluate and save every N steps (default: a tenth of --max-steps)"),
        "save_total_limit": Setting(2, int, "checkpoints kept, the best one included"),
        "logging_steps": Setting(50, int, "log the training loss every N steps"),
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
