"""`multimolecule benchmark`: a suite's tasks x modes x seeds, each unit run, recorded and merged.

A unit is one task, one mode, one seed. `finetune` and `lora` are `multimolecule train` runs (the fine-tuning
engine, `runs/<task>/<mode>/seed-<seed>/` is its output directory) with the task's settings from the suite
(`suites.py`), then `--config`; `probe` and `kmer` are logistic regressions (`baselines.py`).

The units are the items of one sharded job (`multimolecule.utils.runner.ShardedJob`, as `embed` and
`score-variants` are), each with the digest of what it is computed from (the task's files, the model's files, its
settings, its seed), and a task's units are one shard: `--shard i/n` and the `torchrun` ranks (independent workers:
each a training run of its own, on its own GPU) take tasks, task by task. Each finished unit writes `result.json`
(stamped with its digest) into its folder; a unit with one is never run again (`--resume`, other shards), and one
of another job is refused in one line. A task whose units are all finished is a stamped shard in
`results.csv.shards/`, beside the job's manifest; the last worker to finish merges (`report.merge` rebuilds the
tables from every finished unit), and every worker writes the tables of what is finished so far.
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
import time
from pathlib import Path

import chanfig
import torch

from .. import __version__
from ..demo import DEFAULT_MODEL
from ..embedding import embed
from ..models import resolve_name
from ..training.config import resolve_config
from ..training.engine import last_complete_checkpoint, run_training
from ..utils import InputError, OptionError, check_positive, remove_outputs
from ..utils.distributed import world_size
from ..utils.runner import ShardedJob, digest, item_digest, parse_part, weights_digest, write_jsonl_shard
from . import baselines, report
from .suites import BenchmarkTask, check_task, load_suite, read_task, select_tasks

MODES = ("finetune", "lora", "probe")
DEFAULT_SEEDS = (42, 1, 2)


def parse_seeds(seeds) -> list[int]:
    """`"42,1,2"` or a sequence of integers, as a list of distinct integers.

    Example:
        >>> parse_seeds("42,1,2"), parse_seeds([7])
        ([42, 1, 2], [7])
    """
    if isinstance(seeds, str):
        seeds = [part for part in seeds.split(",") if part.strip()]
    try:
        values = [int(seed) for seed in seeds]
    except (TypeError, ValueError) as error:
        message = f"seeds must be integers separated by commas (e.g. 42,1,2), got {seeds!r}"
        raise OptionError(message, "seeds") from error
    if not values or len(set(values)) != len(values):
        raise OptionError(f"seeds must be one or more distinct integers, got {seeds!r}", "seeds")
    return values


def check_modes(modes) -> list[str]:
    """The modes, in order, once each: `None` is `finetune`; an empty list runs the `kmer` baseline alone."""
    modes = ["finetune"] if modes is None else [modes] if isinstance(modes, str) else list(modes)
    for mode in modes:
        if mode not in MODES:
            raise OptionError(f"mode must be one of {', '.join(MODES)}, got {mode!r}", "mode")
    return list(dict.fromkeys(modes))


def read_overrides(config, tasks: list[BenchmarkTask]) -> tuple[dict, dict]:
    """(settings for every task, {task: settings}) from a YAML/JSON file: `multimolecule train` settings at the
    top level, and a `tasks:` mapping of task names to settings for one task (any key of `TrainConfig`)."""
    if config is None:
        return {}, {}
    path = Path(config)
    if not path.is_file():
        raise InputError(f"config file not found: {config}")
    try:
        values = chanfig.Config.load(path).dict()
    except Exception as error:  # YAML/JSON syntax errors come in many types
        raise InputError(f"cannot read config file {config}: {error}") from error
    per_task = values.pop("tasks", None) or {}
    known = {task.name for task in tasks}
    for name, settings in per_task.items():
        if name not in known:
            raise InputError(f"{config}: unknown task {name!r} under tasks (this run has {', '.join(sorted(known))})")
        resolve_config(None, settings)  # unknown keys are an error
    resolve_config(None, values)
    return values, per_task


# What a benchmark writes into its output directory (`report`, the runner's shards and locks): `--overwrite` removes
# these and nothing else.
OUTPUTS = ("settings.json", "runs", "results.csv", "results.csv.*", ".results.csv.*", "summary.md", "summary.png")


def prepare_output(output: Path, identity: dict, resume: bool, overwrite: bool, shared: bool) -> None:
    """Check (and with `overwrite`, empty) the output directory. `shared`: several processes or shards write into
    it, so it may already hold this benchmark's files."""
    if output.exists() and not output.is_dir():
        raise InputError(f"output directory {output} is a file")
    saved = output / "settings.json"
    busy = output.is_dir() and any(output.iterdir())
    if busy and overwrite and not shared:
        remove_outputs(output, OUTPUTS)  # a user's other files in the folder stay
        busy = False
    if busy and not (resume or shared):
        raise InputError(f"output directory {output} is not empty; pass --resume to continue it or --overwrite")
    if saved.is_file():
        before = json.loads(saved.read_text())
        other = {key: before.get(key) for key in identity if before.get(key) != identity[key]}
        if other:
            shown = ", ".join(f"{key} {value}" for key, value in other.items())
            message = f"{output} holds a benchmark of another {', '.join(other)} ({shown}); use another --output-dir"
            raise InputError(message)
    output.mkdir(parents=True, exist_ok=True)


def train_settings(task: BenchmarkTask, mode: str, common: dict, per_task: dict, fixed: dict) -> dict:
    """A unit's `multimolecule train` settings: the suite's for the task and mode, then `--config`'s, then the
    unit's own (data, output, seed, model, device)."""
    return {**task.settings.get(mode, {}), **common, **per_task.get(task.name, {}), **fixed}


def run_train_unit(task, mode, seed, folder: Path, settings: dict, resume: bool) -> dict:
    """One `finetune`/`lora` unit: `multimolecule train` into `folder`, continued from its last checkpoint with
    `resume`, else started afresh; the checkpoints are removed once the final model is written."""
    carry_on = resume and last_complete_checkpoint(folder / "checkpoints") is not None
    run = resolve_config(None, {**settings, "resume": carry_on, "overwrite": not carry_on})
    metrics = run_training(run)["test"]
    shutil.rmtree(folder / "checkpoints", ignore_errors=True)
    return {name: metrics[name] for name in ("mcc", "f1", "accuracy") if name in metrics}


def features_of(task: BenchmarkTask, mode: str, model: str, embed_options: dict):
    """({split: features}, {split: class ids}) of a task for `kmer` (k-mer frequencies) or `probe` (embeddings)."""
    splits = read_task(task.folder)
    classes = sorted({label for _, labels in splits.values() for label in labels})
    targets = {split: [classes.index(label) for label in labels] for split, (_, labels) in splits.items()}
    if mode == "kmer":
        return {split: baselines.kmer_frequencies(seqs) for split, (seqs, _) in splits.items()}, targets
    features = {
        split: embed(seqs, model=model, pooling="mean", **embed_options).embeddings.float().numpy()
        for split, (seqs, _) in splits.items()
    }
    return features, targets


class UnitProgress:
    """A bar over this process's units (task x mode x seed) on stderr, and a line per finished unit."""

    def __init__(self, total: int, enabled: bool):
        from tqdm.auto import tqdm

        self.bar = tqdm(total=total, unit="unit", file=sys.stderr, disable=not enabled, dynamic_ncols=True)
        self.enabled = enabled

    def start(self, task: str, mode: str) -> None:
        self.bar.set_description_str(f"{task} {mode}", refresh=True)

    def done(self, unit: dict, metric: str) -> None:
        self.bar.update(1)
        if self.enabled:
            line = f"{unit['task']} {unit['mode']} seed {unit['seed']}: {metric} {unit['metrics'][metric]:.4f}"
            self.bar.write(f"{line} ({unit['seconds']:.1f} s)", file=sys.stderr)

    def close(self) -> None:
        self.bar.close()


def run_benchmark(
    suite: str,
    output_dir,
    model: str | None = None,
    data: str | None = None,
    modes=None,
    seeds=DEFAULT_SEEDS,
    tasks=None,
    config=None,
    shard: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    device: str | None = "auto",
    dtype: str | None = None,
    max_tokens: int | None = None,
    batch_size: int | None = None,
    progress: bool = True,
    threads: int = 1,
) -> dict:
    """Run the units of `suite` that are this process's and not finished, then merge every finished unit in
    `output_dir`; returns {task: {mode: {"mean", "sd", "seeds"}}} (x 100). See `multimolecule.api.benchmark`."""
    if output_dir is None:
        raise InputError("give an output directory (--output-dir)")
    suite, model = str(suite), str(model or DEFAULT_MODEL)  # a folder of tasks may be given as a path
    modes, seeds = check_modes(modes), parse_seeds(seeds)
    check_positive("max_tokens", max_tokens)
    check_positive("batch_size", batch_size)
    check_positive("threads", threads, allow_zero=True)
    part = parse_part(shard)
    output = Path(output_dir)
    identity = {"suite": suite, "data": None if data is None else str(data), "model": model}
    prepare_output(output, identity, resume, overwrite, shared=part is not None or world_size() > 1)
    chosen = select_tasks(load_suite(suite, data, output / "data"), list(tasks) if tasks else None)
    for task in chosen:  # every task is read and checked before anything is trained
        check_task(task)
    common, per_task = read_overrides(config, chosen)
    all_modes = [*modes, "kmer"]
    settings = {
        **identity,
        "modes": all_modes,
        "seeds": seeds,
        "tasks": [{"name": t.name, "metric": t.metric, "published": t.published, "source": t.source} for t in chosen],
        "train_settings": {
            t.name: {m: train_settings(t, m, common, per_task, {}) for m in modes if m in ("finetune", "lora")}
            for t in chosen
        },
        "config": None if config is None else str(config),
        "device": device,
        "dtype": dtype,
        "threads": threads,
        "versions": {"multimolecule": __version__, "python": platform.python_version()},
    }
    report.write_json(output / "settings.json", settings)
    units = [(task, mode, seed) for task in chosen for mode in all_modes for seed in seeds]
    model_digest = weights_digest(resolve_name(model)) if modes else None
    task_digests = {task.name: weights_digest(task.folder) for task in chosen}
    items = [unit_digest(task, mode, seed, task_digests, model_digest, settings) for task, mode, seed in units]
    manifest = {
        "inputs": {"tasks": digest(task_digests)},
        "model": model_digest,
        "dtype": dtype,
        "settings": {key: settings[key] for key in ("suite", "data", "model", "modes", "seeds", "train_settings")},
    }
    manifest = json.loads(json.dumps(manifest))  # as it is read back from the folder (tuples are lists there)
    # a task's units are one shard: the workers (torchrun ranks, --shard parts) take tasks, each rank on its own
    job = ShardedJob(
        output / "results.csv", items, manifest, resume, ".jsonl", part=part,
        shard_records=len(all_modes) * len(seeds), independent=True,
    )  # fmt: skip
    worker, workers = job.workers
    job.prepare()
    mine = [shard for shard in job.mine() if not job.finished(shard)]
    pending = []
    for shard in mine:
        task = units[shard.items.start][0]
        for mode in all_modes:
            todo = [units[i][2] for i in shard.items if units[i][1] == mode and not done(output, units[i], items[i])]
            if todo:
                pending.append((task, mode, todo))
    bar = UnitProgress(sum(len(todo) for _, _, todo in pending), progress)
    embed_options = {"device": device, "dtype": dtype, "max_tokens": max_tokens, "batch_size": batch_size}
    if threads:  # on the CPU, more threads than cores (or than the share of a busy machine) is much slower
        torch.set_num_threads(threads)
    stamps = dict(zip(((task.name, mode, seed) for task, mode, seed in units), items))
    slot = {"slot": f"{worker + 1}/{workers}"}
    try:
        for task, mode, todo in pending:
            bar.start(task.name, mode)
            if mode in ("kmer", "probe"):  # one fit: lbfgs on fixed features does not depend on the seed
                started, cpu = time.perf_counter(), time.process_time()
                features, targets = features_of(task, mode, model, embed_options)
                metrics, details = baselines.fit_and_score(features, targets, task.metric, todo[0], threads)
                seconds = time.perf_counter() - started
                details |= {**slot, "cpu_seconds": round(time.process_time() - cpu, 3)}
                for seed in todo:
                    record(output, task, mode, seed, metrics, seconds, bar, details, stamps[task.name, mode, seed])
                continue
            for seed in todo:
                started, cpu = time.perf_counter(), time.process_time()
                folder = report.unit_folder(output, task.name, mode, seed)
                fixed = {"data": str(task.folder), "output_dir": str(folder), "model": model, "seed": seed}
                fixed |= {"lora": mode == "lora", "device": device, "dtype": dtype or "float32", "progress": False}
                fixed |= {"threads": threads}
                run = train_settings(task, mode, common, per_task, fixed)
                metrics = run_train_unit(task, mode, seed, folder, run, resume)
                seconds = time.perf_counter() - started
                details = {**slot, "cpu_seconds": round(time.process_time() - cpu, 3)}
                record(output, task, mode, seed, metrics, seconds, bar, details, stamps[task.name, mode, seed])
    finally:
        bar.close()
    if not job.keep:
        return report.merge(output, settings)
    for shard in mine:  # each task of this worker's, finished: its stamped shard
        rows = [read_unit(output, units[i]) for i in shard.items]
        write_jsonl_shard(shard.path, shard.digest, rows)

    def merge(shards) -> dict:  # every finished unit's result.json, whether or not other workers still run
        return report.merge(output, settings)

    return job.merge(merge, partial=merge)


def unit_digest(task: BenchmarkTask, mode: str, seed: int, task_digests: dict, model_digest, settings: dict) -> str:
    """The digest of what a unit is computed from: the task's files, its mode and seed, and for the modes with a
    model the model's files, the dtype and the mode's train settings."""
    if mode == "kmer":
        return item_digest(f"{task.name}/{mode}/{seed}", task_digests[task.name])
    own = settings["train_settings"][task.name].get(mode, {"pooling": "mean"})
    return item_digest(f"{task.name}/{mode}/{seed}", task_digests[task.name], model_digest, settings["dtype"], own)


def done(output: Path, unit: tuple, stamp: str) -> bool:
    """Whether `unit` (task, mode, seed) has its `result.json`, written for these inputs (its stamp); one of
    another job is refused in one line."""
    task, mode, seed = unit
    path = report.unit_folder(output, task.name, mode, seed) / report.RESULT
    if not path.is_file():
        return False
    try:
        stamped = json.loads(path.read_text()).get("inputs")
    except (OSError, ValueError, AttributeError):
        raise InputError(f"{path} is damaged; remove it to run the unit again") from None
    if stamped != stamp:
        raise InputError(f"{path} was not written for these inputs; remove it to run the unit again")
    return True


def read_unit(output: Path, unit: tuple) -> dict:
    task, mode, seed = unit
    return json.loads((report.unit_folder(output, task.name, mode, seed) / report.RESULT).read_text())


def record(output: Path, task, mode: str, seed: int, metrics: dict, seconds: float, bar, details, stamp) -> None:
    """Write a finished unit's `result.json`: its test metrics, wall-clock seconds, `details` (the worker, `i/n`
    over shards and ranks; its CPU seconds; the regression's chosen C and dev score) and its stamp (`inputs`, the
    unit's digest)."""
    unit = {"task": task.name, "mode": mode, "seed": seed, "metrics": metrics, "seconds": round(seconds, 3)}
    unit |= {"details": details} if details else {}
    unit["inputs"] = stamp
    report.write_json(report.unit_folder(output, task.name, mode, seed) / report.RESULT, unit)
    bar.done(unit, task.metric)
