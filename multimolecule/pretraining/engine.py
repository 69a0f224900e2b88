"""Masked-LM pretraining on genomes with transformers' `Trainer`: continued from a checkpoint or from scratch.

The run reuses the fine-tuning engine's machinery (devices and mixed precision, the output directory, the
JSON-lines log, resuming from the last complete checkpoint, the final model written last); what is its own is
the data (`GenomeWindows`, streamed), the masking (`DataCollatorForMaskedDNA`) and the metrics
(`MaskedTokenMetrics`). `torchrun --nproc-per-node N -m multimolecule pretrain ...` runs it on N processes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from transformers import TrainingArguments

from ..models import MODELS, get_model, load_model, special_template
from ..training.engine import (
    JsonLinesLog,
    TiedWeightsTrainer,
    check_output_directory,
    checkpoint_step,
    checkpoint_to_resume,
    precision_arguments,
    prepare_output,
    save_final_model,
    save_settings,
    say,
    shared_arguments,
    task_metrics,
    train_guarded,
    write_json,
)
from ..utils import InputError
from ..utils.distributed import close_process_group_at_exit, is_main_process, synchronize
from .config import PretrainConfig, check_settings
from .genomes import GenomeWindows, HeldOut, genome_files, scan_genomes
from .masking import DataCollatorForMaskedDNA, MaskedWindows
from .metrics import MaskedTokenMetrics, per_position_logits

PATH_SETTINGS = ("data", "eval_data", "model", "config", "tokenizer", "output_dir")  # saved absolute

SIZE_SETTINGS = ("hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size")


def load_pretrained(model: str):
    """(masked-LM model, tokenizer) of a checkpoint, for continued pretraining; `Trainer` places the model."""
    return load_model(model, device=None, task="fill-mask")


def build_from_config(config: PretrainConfig):
    """(freshly initialised masked-LM model, tokenizer) from `config.config`: a family name, a config.json or a
    folder holding one; the sizes of `config` override the file's, and the vocabulary follows the tokenizer."""
    spec = str(config.config)
    path = Path(spec).expanduser()
    if spec in MODELS or spec in {package.folder for package in MODELS.values()}:
        package, values, folder = get_model(spec), {}, None
    else:
        file = path / "config.json" if path.is_dir() else path
        if not file.is_file():
            raise InputError(f"--architecture {spec}: neither a model family ({', '.join(MODELS)}) nor a config.json")
        try:
            values = json.loads(file.read_text())
        except (OSError, ValueError) as error:
            raise InputError(f"cannot read {file}: {error}") from error
        if values.get("model_type") not in MODELS:
            raise InputError(f"{file} has model_type {values.get('model_type')!r}; choose from {', '.join(MODELS)}")
        package, folder = MODELS[values["model_type"]], file.parent
    tokenizer_dir = config.tokenizer or (folder if folder is not None and has_tokenizer(folder) else None)
    if tokenizer_dir is not None:
        try:
            tokenizer = package.tokenizer.from_pretrained(str(tokenizer_dir))
        except (OSError, ValueError) as error:
            raise InputError(f"cannot load the tokenizer in {tokenizer_dir}: {error}") from error
    elif hasattr(package.tokenizer, "standard"):
        tokenizer = package.tokenizer.standard()  # the Nucleotide Transformer's 6-mer vocabulary
    else:
        raise InputError(
            f"a {package.title} model from scratch needs a tokenizer: give --tokenizer DIR "
            "(train one with `multimolecule train-tokenizer`)"
        )
    derived = ("architectures", "token_bases", "token_lengths", "dtype", "model_type", "transformers_version")
    keep = {k: v for k, v in values.items() if k not in derived}
    sizes = {name: int(config[name]) for name in SIZE_SETTINGS if config[name] is not None}
    dropout = {"hidden_dropout": float(config.dropout), "attention_dropout": float(config.dropout)}
    specials = {f"{name}_token_id": getattr(tokenizer, f"{name}_token_id") for name in ("pad", "mask", "unk", "cls")}
    try:
        vocabulary = {"vocab_size": len(tokenizer), "token_bases": tokenizer.token_bases}
        model_config = package.config(**{**keep, **dropout, **sizes, **specials, **vocabulary})
        model = package.role("masked_lm")(model_config)
    except (TypeError, ValueError) as error:
        raise InputError(f"cannot build a {package.title} model from {spec}: {error}") from error
    if not tokenizer_is_sized(tokenizer) and package.trained_length is not None:
        tokenizer.model_max_length = package.trained_length  # the family's published pretraining length
    return model, tokenizer


def has_tokenizer(folder: Path) -> bool:
    return any((folder / name).is_file() for name in ("tokenizer.json", "vocab.txt"))


def tokenizer_is_sized(tokenizer) -> bool:
    return 4 <= tokenizer.model_max_length < 1_000_000


def window_length(config: PretrainConfig, model, tokenizer) -> int:
    """Tokens per window: `max_length`, else the model's trained length (its tokenizer's `model_max_length`);
    `InputError` for a window longer than the model's position table, or too short to hold any DNA."""
    window = int(config.max_length) if config.max_length else None
    if window is None:
        window = int(tokenizer.model_max_length) if tokenizer_is_sized(tokenizer) else 512
    limit = getattr(model.config, "max_position_embeddings", None)  # ALiBi (DNABERT-2) has no limit
    if limit is not None and window > limit:
        raise InputError(f"a window of {window} tokens is longer than the model allows ({limit} positions)")
    prefix, suffix = special_template(tokenizer)
    body, probability = window - len(prefix) - len(suffix), float(config.mask_probability)
    if body * probability < 1:  # most windows would train on nothing
        shortest = len(prefix) + len(suffix) + math.ceil(1 / probability)
        raise InputError(
            f"a window of {window} tokens holds {max(body, 0)} DNA token(s), fewer than one masked per window at a "
            f"mask probability of {probability}: give --max-length {shortest} or more"
        )
    return window


def run_pretraining(config: PretrainConfig) -> dict:
    """Pretrain on `config`'s genomes; returns the held-out metrics of the best checkpoint (also in metrics.json)."""
    from transformers import PrinterCallback, set_seed

    check_settings(config)
    output = Path(config.output_dir)
    checkpoints = output / "checkpoints"
    last = checkpoint_to_resume(checkpoints, config.resume)
    inputs = [*str(config.data).split(","), *str(config.eval_data or "").split(","), config.model, config.config]
    check_output_directory(output, config.resume, config.overwrite, [*inputs, config.tokenizer])
    precision_arguments(config.dtype, config.device)  # fails first on a device or dtype this machine lacks
    if config.threads and int(config.threads) > 0:
        torch.set_num_threads(int(config.threads))
    set_seed(int(config.seed))
    model, tokenizer = load_pretrained(config.model) if config.model else build_from_config(config)
    window = window_length(config, model, tokenizer)
    tokenizer.model_max_length = window  # the trained length, saved with the model
    saved_sparse_prediction = model.config.sparse_prediction
    model.config.sparse_prediction = True  # the head runs only at masked positions; the loss is the same

    files = genome_files(config.data)
    eval_files = genome_files(config.eval_data) if config.eval_data else []
    contigs = frozenset(c.strip() for c in str(config.eval_contigs or "").split(",") if c.strip())
    held_out = HeldOut(contigs, 0.0 if eval_files else float(config.eval_fraction))
    summary = scan_genomes(files, eval_files, held_out)
    say(
        f"{summary.describe()}; {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters, "
        f"vocabulary {len(tokenizer)}, windows of {window} tokens",
        not config.progress,
    )
    seed = int(config.seed)
    train = GenomeWindows(files, tokenizer, window, "train", held_out, shuffle=True, seed=seed)
    train = MaskedWindows(train, tokenizer, float(config.mask_probability), seed, replace_all=False)
    evaluated = (eval_files, HeldOut(fraction=1.0)) if eval_files else (files, held_out)
    evaluation = GenomeWindows(
        evaluated[0], tokenizer, window, "eval", evaluated[1], shuffle=False, limit=int(config.eval_windows)
    )
    if next(iter(evaluation), None) is None:
        raise InputError(
            f"the held-out DNA ({summary.eval_bases:,} bases) is too short for one window of {window} tokens; "
            "hold out more (--eval-fraction, --eval-contigs) or give --eval-data"
        )
    held_out_windows = MaskedWindows(evaluation, tokenizer, float(config.mask_probability), seed)

    batch_size = int(config.max_tokens) // window if config.max_tokens else int(config.batch_size)
    if batch_size < 1:
        raise InputError(f"max_tokens {config.max_tokens} does not hold one window of {window} tokens")
    max_steps = int(config.max_steps)
    eval_steps = int(config.eval_steps or max(1, max_steps // 10))
    args = TrainingArguments(
        output_dir=str(checkpoints),
        max_steps=max_steps,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size,
        gradient_accumulation_steps=int(config.gradient_accumulation_steps),
        learning_rate=float(config.learning_rate),
        weight_decay=float(config.weight_decay),
        adam_beta1=float(config.adam_beta1),
        adam_beta2=float(config.adam_beta2),
        adam_epsilon=float(config.adam_epsilon),
        max_grad_norm=float(config.max_grad_norm),
        warmup_steps=float(config.warmup_ratio),
        lr_scheduler_type=config.scheduler,
        eval_strategy="steps",
        save_strategy="steps",
        eval_steps=eval_steps,
        save_steps=eval_steps,
        metric_for_best_model="loss",
        greater_is_better=False,
        **shared_arguments(config),
    )  # also starts the process group of a multi-process run
    close_process_group_at_exit()
    synchronize()  # every process has checked OUT before the main one writes into it
    if is_main_process():
        prepare_output(output, config.resume, config.overwrite)
        save_settings(config, output / "pretrain_config.yaml", PATH_SETTINGS)
    synchronize()
    if not config.progress:
        from transformers.utils import logging

        logging.disable_progress_bar()
    trainer = TiedWeightsTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=held_out_windows,
        data_collator=DataCollatorForMaskedDNA(tokenizer, float(config.mask_probability)),
        processing_class=tokenizer,
        compute_metrics=MaskedTokenMetrics(tokenizer),
        preprocess_logits_for_metrics=per_position_logits,
        callbacks=[JsonLinesLog(output / "log.jsonl", checkpoint_step(last))],
    )
    if not config.progress:
        trainer.remove_callback(PrinterCallback)
    train_guarded(trainer, last, config.learning_rate)
    metrics = task_metrics(trainer.evaluate(metric_key_prefix="eval"), "eval")
    trainer.model.config.sparse_prediction = saved_sparse_prediction  # saved as it came: full logits by default
    metrics.update(window=window, training_bases=summary.bases, held_out_bases=summary.eval_bases)
    if trainer.is_world_process_zero():
        save_final_model(trainer.model, tokenizer, output)
        write_json(output / "metrics.json", metrics)
    trainer.accelerator.wait_for_everyone()
    return metrics
