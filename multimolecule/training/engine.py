"""Fine-tuning with transformers' `Trainer`: model and head, optimiser groups, LoRA, checkpoints, outputs.

`torchrun --nproc-per-node N -m multimolecule train ...` (or `accelerate launch`) runs the same code on N
processes; `Trainer` does the rest.
"""

from __future__ import annotations

import copy
import json
import math
import os
import shutil
from pathlib import Path

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments

from ..models import MODELS, load_model, package_of, resolve_name, trained_window
from ..utils import InputError, check_apart, check_device, check_dtype, remove_outputs
from ..utils.distributed import close_process_group_at_exit, is_main_process, synchronize, world_size
from .collator import IGNORE_INDEX, DataCollatorForBaseLevelLabels
from .config import TrainConfig, check_settings, width_scaled_learning_rate
from .data import ShiftedViews, encode_rows, read_splits
from .metrics import HIGHER_IS_BETTER, TaskMetrics, default_metric
from .tasks import Task

HEAD_CLASSES = {"sequence": "SequencePrediction", "token": "TokenPrediction", "contact": "ContactPrediction"}
RESULT_FILES = ("metrics.json", "task.json", "train_config.yaml", "log.jsonl")
PATH_SETTINGS = ("data", "train", "dev", "test", "model", "output_dir")  # saved absolute (`save_settings`)
# What a training run writes into its output directory: `--overwrite` removes these and nothing else, so a user's
# other files there survive (the final model's files are replaced by name when it is saved).
RUN_OUTPUTS = (*RESULT_FILES, "pretrain_config.yaml", "checkpoints", ".final-model.tmp")
MODEL_FILES = ("config.json", "generation_config.json", "model*.safetensors*", "tokenizer*.json")
MODEL_FILES += ("special_tokens_map.json", "vocab.txt", "adapter_*", "training_args.bin")


def say(message: str, quiet: bool = False) -> None:
    if is_main_process() and not quiet:
        print(message, flush=True)


def head_parameter_names(model) -> set[str]:
    """Names of the parameters outside the pretrained backbone (`model.base_model_prefix`): the new head."""
    backbone = {id(p) for p in getattr(model, model.base_model_prefix).parameters()}
    return {name for name, p in model.named_parameters() if id(p) not in backbone}


def head_module_names(model) -> list[str]:
    """The top-level modules that are not the backbone: the head(s), which LoRA must train in full and save."""
    return [name for name, _ in model.named_children() if name != model.base_model_prefix]


class TiedWeightsTrainer(Trainer):
    """transformers' `Trainer`, told that a tied tensor is not missing: a checkpoint stores DNABERT-2's
    `lm_head.decoder.weight` once, as the word embeddings, so reloading the best model at the end (which loads
    with `strict=False`) found it "missing" and warned, although the tie restores it."""

    def _issue_warnings_after_load(self, load_result) -> None:
        model = self.accelerator.unwrap_model(self.model)
        model = model.get_base_model() if hasattr(model, "get_base_model") else model
        tied = set(getattr(model, "all_tied_weights_keys", None) or {})
        missing = [key for key in load_result.missing_keys if key not in tied]
        super()._issue_warnings_after_load(load_result._replace(missing_keys=missing))


class FineTuningTrainer(TiedWeightsTrainer):
    """`Trainer` with a learning rate of its own for the new head, and base-level evaluation that keeps only the
    labelled positions of each batch (so base-pair predictions of any length can be gathered and scored)."""

    def __init__(self, *args, task: Task, head_learning_rate: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.task = task
        self.head_learning_rate = head_learning_rate

    def create_optimizer(self, model=None):
        model = self.model if model is None else model
        if self.optimizer is None and self.head_learning_rate is not None:
            inner = model.get_base_model() if hasattr(model, "get_base_model") else model
            head = {id(p) for name, p in inner.named_parameters() if name in head_parameter_names(inner)}
            decay = set(self.get_decay_parameter_names(model))
            groups = []
            for is_head, lr in ((False, self.args.learning_rate), (True, self.head_learning_rate)):
                for decays in (True, False):
                    params = [
                        p
                        for n, p in model.named_parameters()
                        if p.requires_grad and (id(p) in head) == is_head and (n in decay) == decays
                    ]
                    if params:
                        groups.append({"params": params, "lr": lr, "weight_decay": self.args.weight_decay * decays})
            optimizer_cls, optimizer_kwargs = self.get_optimizer_cls_and_kwargs(self.args, model)
            optimizer_kwargs.pop("lr", None)
            self.optimizer = optimizer_cls(groups, lr=self.args.learning_rate, **optimizer_kwargs)
        return super().create_optimizer(model)

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        loss, logits, labels = super().prediction_step(model, inputs, prediction_loss_only, ignore_keys)
        if self.task.level == "sequence" or logits is None or labels is None:
            return loss, logits, labels
        if isinstance(logits, (tuple, list)):
            logits = logits[0]
        logits = logits[(slice(None), *[slice(0, size) for size in labels.shape[1:]])]
        keep = labels != IGNORE_INDEX
        return loss, logits[keep][None], labels[keep][None]  # (1, labelled positions, num_labels), (1, positions)


class JsonLinesLog(TrainerCallback):
    """Append every log entry (training losses, dev metrics) to a JSON-lines file. A resumed run first drops the
    entries after the checkpoint it resumes from (the interrupted run logged them; it logs them again), so the
    file has each step once."""

    def __init__(self, path: Path, resumed_step: int | None = None):
        self.path = path
        if resumed_step is not None and path.is_file() and is_main_process():
            kept = [line for line in path.read_text().splitlines() if logged_step(line) <= resumed_step]
            write_text_atomically(path, "".join(line + "\n" for line in kept))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            with open(self.path, "a") as handle:
                handle.write(json.dumps({"step": state.global_step, "epoch": state.epoch, **logs}) + "\n")


def logged_step(line: str) -> float:
    try:
        return float(json.loads(line).get("step", 0))
    except (ValueError, AttributeError):
        return math.inf  # a torn last line: dropped


class StopOnNonFiniteLoss(TrainerCallback):
    """Stop a run whose loss (training or held-out) or weights are no longer finite, before anything is saved
    from it: the weights are NaN from then on and every later checkpoint would hold them. `train_guarded` raises
    the one-line error."""

    def __init__(self):
        self.step = None

    def on_log(self, args, state, control, logs=None, **kwargs):
        loss = (logs or {}).get("loss")
        if self.step is None and loss is not None and not math.isfinite(float(loss)):
            self.step = state.global_step
        if self.step is not None:
            control.should_training_stop = True
            control.should_save = control.should_evaluate = False

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        losses = [value for key, value in (metrics or {}).items() if key.endswith("_loss")]
        if self.step is None and not all(math.isfinite(float(value)) for value in losses):
            self.step = state.global_step  # finite but huge weights: a NaN loss on the held-out data
        if self.step is not None:
            control.should_training_stop = True
            control.should_save = False

    def on_step_end(self, args, state, control, **kwargs):
        # the weights are checked where the step is logged, evaluated, saved or the last (a check syncs the device)
        due = control.should_log or control.should_evaluate or control.should_save or control.should_training_stop
        if self.step is None and due and not all(torch.isfinite(p).all() for p in kwargs["model"].parameters()):
            self.step = state.global_step
        if self.step is not None:
            control.should_training_stop = True
            control.should_save = control.should_evaluate = control.should_log = False


def train_guarded(trainer, resume_from_checkpoint, learning_rate) -> None:
    """`trainer.train`, stopped with one line (`InputError`) naming the step and the likely setting as soon as the
    loss or the weights stop being finite; nothing of that run is kept as the best model."""
    guard = StopOnNonFiniteLoss()
    trainer.add_callback(guard)
    trainer.train(resume_from_checkpoint=resume_from_checkpoint)
    if guard.step is not None:
        raise InputError(
            f"the loss is no longer finite at step {guard.step}: the learning rate ({learning_rate}) is "
            "likely too high (or the precision too low); nothing of this run was kept as the final model"
        )


# ------------------------------------------------------------------------------------------------- model


def load_model_for(task: Task, model: str, pooling: str = "mean"):
    """(model with a `task` head, tokenizer) from a demo name, a directory or a Hub id, in our layout or an
    original one; a new sequence-level head pools by `pooling` ("mean" or "cls")."""
    path = resolve_name(model, check=True)
    head = HEAD_CLASSES[task.level]
    try:
        config = package_of(path).config.from_pretrained(path)
    except (OSError, ValueError, KeyError) as error:  # CheckpointError is a ValueError
        raise InputError(f"cannot load model {model}: {error}") from error
    architectures = config.architectures or []
    has_head = any(a.endswith(head) for a in architectures)
    if has_head and config.num_labels != task.num_labels:
        raise InputError(
            f"{model} already has a {head} head with {config.num_labels} labels, but the task has {task.num_labels}; "
            "start from the pretrained model instead"
        )
    if any(a.endswith(h) for a in architectures for h in HEAD_CLASSES.values() if h != head):
        raise InputError(f"{model} is fine-tuned for another kind of task ({', '.join(architectures)})")
    labels = task.classes if task.problem_type != "regression" else [f"output_{i}" for i in range(task.num_labels)]
    if task.problem_type == "multi_label_classification":
        labels = task.label_columns
    extra = {}
    if task.level != "sequence" and getattr(config, "token_lengths", None) is None:
        extra["token_lengths"] = package_of(path).tokenizer.from_pretrained(path).token_lengths
    if task.level == "sequence" and not has_head:
        extra["head_pooling"] = pooling  # a fine-tuned model keeps the pooling it was trained with
    return load_model(
        path,
        device=None,  # `Trainer` places the model
        task=f"{task.level}-prediction",
        num_labels=task.num_labels,
        problem_type=task.problem_type,
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
        **extra,
    )


def add_lora(model, config: TrainConfig):
    """Wrap `model` with PEFT LoRA adapters on `config.lora_target_modules` (default: the family's `lora_targets`);
    the head is trained in full."""
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as error:
        raise InputError("--lora needs peft: pip install peft") from error
    lora = LoraConfig(
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=list(config.lora_target_modules or MODELS[model.config.model_type].lora_targets),
        modules_to_save=head_module_names(model),
    )
    try:
        return get_peft_model(model, lora)
    except ValueError as error:
        raise InputError(f"cannot add LoRA adapters: {error}") from error


# ---------------------------------------------------------------------------------------------- training


def precision_arguments(dtype: str | None, device: str | None) -> dict:
    """`TrainingArguments`' device and mixed-precision settings (`bf16`, `fp16`, `use_cpu`, `ddp_backend`) for a
    `dtype` (float32, float16, bfloat16, their aliases, or auto: bfloat16 on a GPU that supports it, else float32)
    and a `device` (auto, cpu, cuda, cuda:N, mps); one-line errors for a combination the hardware cannot run."""
    device = check_device("device", device)
    if dtype == "auto":
        dtype = "bfloat16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "float32"
    dtype = check_dtype("dtype", dtype or "float32")
    use_cpu = device.type == "cpu"
    if dtype == "float16" and device.type != "cuda":
        raise InputError("float16 mixed precision needs a CUDA GPU; use bfloat16 or float32")
    if dtype == "bfloat16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise InputError("this GPU does not support bfloat16; use float16")
    return {
        "bf16": dtype == "bfloat16",
        "fp16": dtype == "float16",
        "use_cpu": use_cpu,
        "ddp_backend": "gloo" if use_cpu and world_size() > 1 else None,
    }


def training_arguments(config: TrainConfig, task: Task, steps_per_epoch: int, checkpoints: Path) -> TrainingArguments:
    precision_arguments(config.dtype, config.device)  # fails first on a device or dtype this machine lacks
    metric = config.metric or default_metric(task)
    known = {
        "accuracy",
        "f1",
        "mcc",
        "precision",
        "recall",
        "auroc",
        "auprc",
        "mse",
        "mae",
        "r2",
        "pearson",
        "spearman",
    }
    if metric not in known:
        raise InputError(f"unknown metric {metric!r}; choose from {', '.join(sorted(known))}")
    if metric in ("auroc", "auprc") and task.level != "sequence":
        raise InputError("auroc/auprc are not computed for per-base tasks; choose mcc, f1 or accuracy")
    if (metric in HIGHER_IS_BETTER or metric in ("r2", "pearson", "spearman")) != (task.kind == "regression"):
        raise InputError(f"metric {metric!r} does not fit a {task.kind} task")
    eval_steps = config.eval_steps
    if eval_steps is None and config.max_steps and config.max_steps > 0:
        eval_steps = min(steps_per_epoch, config.max_steps)
    strategy = "steps" if eval_steps else "epoch"
    return TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=float(config.epochs),
        max_steps=int(config.max_steps or -1),
        per_device_train_batch_size=int(config.batch_size),
        per_device_eval_batch_size=int(config.eval_batch_size or config.batch_size),
        gradient_accumulation_steps=int(config.gradient_accumulation_steps),
        learning_rate=float(config.learning_rate),
        weight_decay=float(config.weight_decay),
        warmup_steps=float(config.warmup_ratio),
        lr_scheduler_type=config.scheduler,
        eval_strategy=strategy,
        save_strategy=strategy,
        eval_steps=eval_steps,
        save_steps=eval_steps,
        metric_for_best_model=metric,
        greater_is_better=HIGHER_IS_BETTER.get(metric, True),
        **shared_arguments(config),
    )


def shared_arguments(config) -> dict:
    """The `TrainingArguments` that `train` and `pretrain` set alike from their settings (`dtype`, `device`,
    `seed`, `logging_steps`, `save_total_limit`, `gradient_checkpointing`, `num_workers`, `progress`): devices
    and mixed precision, seeds, logging, checkpoints (the best one loaded at the end), batch-by-batch metrics."""
    return {
        **precision_arguments(config.dtype, config.device),
        "seed": int(config.seed),
        "data_seed": int(config.seed),
        "logging_steps": int(config.logging_steps),
        "load_best_model_at_end": True,
        "save_total_limit": int(config.save_total_limit),
        "batch_eval_metrics": True,
        **({"gradient_checkpointing": True} if config.gradient_checkpointing else {}),
        "dataloader_num_workers": int(config.num_workers),
        "report_to": "none",
        "disable_tqdm": not config.progress,
        "ddp_find_unused_parameters": False,
        "remove_unused_columns": False,
        "save_only_model": False,
    }


def check_output_directory(output: Path, resume: bool, overwrite: bool, inputs=()) -> None:
    """Refuse an output directory that is a file, is not empty (unless `resume` or `overwrite`), or is, contains
    or lies inside one of `inputs` (data files and folders, a local model): `--overwrite` must never touch them."""
    check_apart(output, inputs)
    if output.exists() and not output.is_dir():
        raise InputError(f"output directory {output} is a file")
    if not resume and output.is_dir() and any(output.iterdir()) and not overwrite:
        raise InputError(f"output directory {output} is not empty; pass --resume to continue or --overwrite")


def prepare_output(output: Path, resume: bool, overwrite: bool) -> None:
    """Create `output`; with `overwrite` (and not `resume`), remove what an earlier run wrote there
    (`RUN_OUTPUTS`, the final model's files; `config.json` first) and nothing else."""
    check_output_directory(output, resume, overwrite)
    if not resume and overwrite and output.is_dir() and is_main_process():
        remove_outputs(output, (*MODEL_FILES, *RUN_OUTPUTS))
    output.mkdir(parents=True, exist_ok=True)


def run_training(config: TrainConfig) -> dict:
    """Fine-tune `config.model` on `config`'s data; returns `{"dev": {...}, "test": {...}}` (also in metrics.json)."""
    from transformers import EarlyStoppingCallback, PrinterCallback, set_seed

    if not config.output_dir:
        raise InputError("give an output directory (--output-dir)")
    check_settings(config)
    output = Path(config.output_dir)
    inputs = (config.data, config.train, config.dev, config.test, config.model)
    check_output_directory(output, config.resume, config.overwrite, inputs)
    splits = read_splits(
        config.data, config.train, config.dev, config.test, config.sequence_column, config.label_column
    )
    task = splits.task
    say(splits.summary(), not config.progress)
    checkpoints = output / "checkpoints"
    last = checkpoint_to_resume(checkpoints, config.resume)
    if config.resume:
        saved = output / "task.json"
        if saved.is_file() and Task.from_dict(json.loads(saved.read_text())) != task:
            raise InputError(f"the data's task differs from the one {output} was trained on")
    if config.threads and int(config.threads) > 0:
        torch.set_num_threads(int(config.threads))
    set_seed(int(config.seed))
    check_output_directory(output, config.resume, config.overwrite)
    model, tokenizer = load_model_for(task, config.model, config.pooling)
    if config.learning_rate is None:
        config.learning_rate = width_scaled_learning_rate(model.config.hidden_size)
    max_length = int(config.max_length or trained_window(tokenizer, model.config))
    token_lengths = tokenizer.token_lengths
    datasets = {}
    for split, rows in splits.rows.items():
        datasets[split], cut = encode_rows(rows, task, tokenizer, max_length, token_lengths, splits.files[split])
        if cut:
            say(
                f"note: {cut:,} {split} sequences are longer than {max_length} tokens and were cut", not config.progress
            )
    if config.shifts > 0:  # training sequences also start 1..shifts bases in, one view drawn per use
        train = (splits.rows["train"], task, tokenizer, max_length, token_lengths, splits.files["train"])
        views = [encode_rows(*train, shift=shift)[0] for shift in range(1, config.shifts + 1)]
        datasets["train"] = ShiftedViews([datasets["train"], *views], seed=int(config.seed))
    if config.lora:
        model = add_lora(model, config)
    batch = int(config.batch_size) * int(config.gradient_accumulation_steps) * world_size()
    steps_per_epoch = max(1, math.ceil(len(datasets["train"]) / batch))
    args = training_arguments(config, task, steps_per_epoch, checkpoints)  # also starts the process group
    close_process_group_at_exit()
    synchronize()  # every process has checked OUT before the main one writes into it
    if is_main_process():
        prepare_output(output, config.resume, config.overwrite)
        save_settings(config, output / "train_config.yaml", PATH_SETTINGS)
        write_json(output / "task.json", task.to_dict())
    synchronize()
    if not config.progress:
        from transformers.utils import logging

        logging.disable_progress_bar()  # "Writing model shards" at each checkpoint
    callbacks = [JsonLinesLog(output / "log.jsonl", checkpoint_step(last))]
    if config.early_stopping_patience and int(config.early_stopping_patience) > 0:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=int(config.early_stopping_patience)))
    trainer = FineTuningTrainer(
        model=model,
        args=args,
        train_dataset=datasets["train"],
        eval_dataset=datasets["dev"],
        data_collator=DataCollatorForBaseLevelLabels(tokenizer),
        processing_class=tokenizer,
        compute_metrics=TaskMetrics(task),
        callbacks=callbacks,
        task=task,
        head_learning_rate=float(config.head_learning_rate) if config.head_learning_rate else None,
    )
    if not config.progress:
        trainer.remove_callback(PrinterCallback)  # the log lines printed without a progress bar
    train_guarded(trainer, last, config.learning_rate)
    trainer.remove_callback(EarlyStoppingCallback)  # the final evaluations are not part of the search
    metrics = {"dev": task_metrics(trainer.evaluate(datasets["dev"], metric_key_prefix="dev"), "dev")}
    if "test" in datasets:
        metrics["test"] = task_metrics(trainer.evaluate(datasets["test"], metric_key_prefix="test"), "test")
    if trainer.is_world_process_zero():
        save_final_model(trainer.model, tokenizer, output)
        write_json(output / "metrics.json", metrics)
    trainer.accelerator.wait_for_everyone()
    return metrics


def checkpoint_to_resume(checkpoints: Path, resume: bool) -> str | None:
    """The last complete checkpoint to continue from when `resume` (an error when there is none), else None."""
    if not resume:
        return None
    last = last_complete_checkpoint(checkpoints)
    if last is None:
        raise InputError(f"nothing to resume: no checkpoint in {checkpoints}")
    return last


def checkpoint_step(checkpoint: str | None) -> int | None:
    """The step a `checkpoint-N` folder was saved at (None for None)."""
    return None if checkpoint is None else int(Path(checkpoint).name.removeprefix("checkpoint-"))


def last_complete_checkpoint(checkpoints: Path) -> str | None:
    """The newest `checkpoint-N` that was written to the end (`trainer_state.json` is written last), if any: a run
    killed while saving leaves a partial one, which is skipped."""
    complete = [p for p in checkpoints.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    complete = [p for p in complete if p.name.removeprefix("checkpoint-").isdigit()]
    return str(max(complete, key=lambda p: int(p.name.removeprefix("checkpoint-")))) if complete else None


def task_metrics(metrics: dict, prefix: str) -> dict:
    """`Trainer`'s evaluation output without its timing entries, names without the split prefix."""
    timing = ("runtime", "samples_per_second", "steps_per_second", "model_preparation_time", "epoch")
    names = {key.removeprefix(f"{prefix}_"): value for key, value in metrics.items()}
    return {key: round(float(value), 6) for key, value in names.items() if key not in timing}


def save_final_model(model, tokenizer, output: Path) -> None:
    """Write the model (LoRA merged in) and tokenizer into `output`; `config.json` is moved in last, so an
    interrupted save never leaves a directory that loads as a model."""
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    staging = output / ".final-model.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    (output / "config.json").unlink(missing_ok=True)
    files = sorted(staging.iterdir(), key=lambda p: p.name == "config.json")
    for file in files:
        os.replace(file, output / file.name)
    staging.rmdir()


def save_settings(config, path: Path, names: tuple[str, ...]) -> None:
    """`config` as YAML at `path`, with the settings `names` (paths, or comma-separated lists of them) made
    absolute where they name something on this machine, so that `--resume` works from any directory. A demo
    name or a Hub id is kept as it is.

    Example:
        >>> import tempfile, yaml
        >>> from multimolecule.training import TrainConfig
        >>> config = TrainConfig()
        >>> config.data = "."
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     save_settings(config, Path(folder) / "run.yaml", ("data", "model"))
        ...     saved = yaml.safe_load((Path(folder) / "run.yaml").read_text())
        >>> saved["data"] == os.path.abspath("."), saved["model"], config.data
        (True, 'dnabert2-demo', '.')
    """
    saved = copy.deepcopy(config)
    for name in names:
        if isinstance(saved[name], str):
            parts = [
                os.path.abspath(part) if part and os.path.exists(part) else part for part in saved[name].split(",")
            ]
            saved[name] = ",".join(parts)
    saved.yaml(str(path))


def write_json(path: Path, value) -> None:
    write_text_atomically(path, json.dumps(value, indent=2) + "\n")


def write_text_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
