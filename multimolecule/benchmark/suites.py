"""The benchmark suites: their tasks, the metric each paper reports, the authors' per-task settings, the published
figures, and the folders they are read from.

Every suite becomes a list of `BenchmarkTask`s, each a folder in the GUE layout (`train.csv`, `dev.csv`,
`test.csv` with `sequence,label`): GUE and any folder of such tasks are used as they are; the Nucleotide
Transformer's tasks (through `datasets`) and Genomic Benchmarks (its folder layout) are first written in that
layout under the output directory, with a dev split of 10% of the training rows (seeded), since neither has one.

Sources:
- GUE settings: MAGICS-LAB/DNABERT_2, `finetune/scripts/run_dnabert2.sh` (full fine-tuning of DNABERT-2: the
  `finetune` mode) and `finetune/scripts/run_nt.sh` (LoRA fine-tuning of the Nucleotide Transformers on GUE:
  the `lora` mode): maximum length in tokens, batch size, learning rate, epochs, steps, warm-up and evaluation
  steps per task, as written there.
- Published figures (`PUBLISHED`, with `PUBLISHED_NOTES`): GUE has the DNABERT-2 paper's figures for DNABERT-2
  (117M) (Zhou et al., ICLR 2024, arXiv:2306.15006, Tables 3-5): MCC x 100 for every task but Covid variant
  classification, which reports macro F1 x 100. They could not be checked against the paper's own tables where
  they were entered (docs/benchmark.md says what was and was not read); `PUBLISHED_NOTES["gue"]` says so in every
  summary. The `nt` suite has none: the Nucleotide Transformer paper (Dalla-Torre et al., Nature Methods 2024)
  draws its per-task MCCs in Fig. 2a and the authors' leaderboard lists them, but neither could be read as text
  here; no figure is entered from memory.
- NT settings: the Nucleotide Transformer paper, Methods, "Fine-tuning": 10,000 steps of batch 8 at a learning
  rate of 3e-3 for its parameter-efficient (IA3) fine-tuning, used here for `lora`; `finetune` takes the same steps
  and batch with the train engine's learning rate.
- Genomic Benchmarks (Grešová et al., BMC Genomic Data 2023) reports accuracy; no per-task settings.
"""

from __future__ import annotations

import csv
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from ..training.data import read_splits
from ..training.tables import find_split, read_table
from ..utils import InputError

SUITES = ("gue", "nt", "genomic-benchmarks")
NT_HUB_ID = "InstaDeepAI/nucleotide_transformer_downstream_tasks_revised"
DEV_FRACTION, DEV_SEED = 0.1, 0


@dataclass
class BenchmarkTask:
    """One task of a suite: its name (`EMP/H3`), its folder in the GUE layout, the metric its paper reports, the
    train settings of each mode (`{"finetune": {...}, "lora": {...}}`), and the published figure, if any."""

    name: str
    folder: Path
    metric: str = "mcc"
    settings: dict[str, dict] = field(default_factory=dict)
    published: float | None = None
    source: str | None = None


# ----------------------------------------------------------------------------------------------------- GUE

# Each group of GUE tasks with the settings both scripts give it, as (tasks, run_dnabert2.sh, run_nt.sh);
# a settings tuple is (model_max_length, train batch, eval batch, epochs, eval/save steps, warm-up steps), then
# max_steps and gradient accumulation where the script sets them.
EMP = [f"EMP/{mark}" for mark in ("H3", "H3K14ac", "H3K36me3", "H3K4me1", "H3K4me2", "H3K4me3", "H3K79me3")]
EMP += [f"EMP/{mark}" for mark in ("H3K9ac", "H4", "H4ac")]
GUE_GROUPS = [
    (EMP, (128, 32, 64, 3, 200, 50), (100, 8, 16, 3, 200, 50)),
    (["prom/prom_core_all", "prom/prom_core_notata"], (20, 32, 64, 4, 400, 50), (20, 8, 16, 4, 400, 50)),
    (["prom/prom_core_tata"], (20, 32, 64, 10, 200, 50), (20, 8, 16, 10, 200, 50)),
    (["prom/prom_300_all", "prom/prom_300_notata"], (70, 32, 64, 4, 400, 50), (70, 8, 16, 4, 400, 50)),
    (["prom/prom_300_tata"], (70, 8, 16, 10, 200, 50), (70, 8, 16, 10, 200, 50)),
    (["splice/reconstructed"], (80, 8, 16, 5, 200, 50), (80, 8, 16, 5, 200, 50)),
    (["virus/covid"], (256, 32, 32, 8, 200, 50), (256, 2, 4, 3, 200, 200, None, 4)),
    ([f"mouse/{i}" for i in range(5)], (30, 8, 64, 5, 200, 30, 1000), (30, 8, 64, 5, 200, 100, 1000)),
    ([f"tf/{i}" for i in range(5)], (30, 8, 64, 3, 200, 30), (30, 8, 64, 3, 200, 30)),
]
GUE_LEARNING_RATES = {"finetune": 2e-5, "lora": 1e-4}  # run_dnabert2.sh's lr, run_nt.sh's --learning_rate


@dataclass(frozen=True)
class Published:
    """A figure a paper prints for one task of a suite: `value` x 100, in the task's metric, and `source`: the
    model it was measured with and where the paper prints it (every figure has one; `tests/benchmark` checks)."""

    value: float
    source: str


# The DNABERT-2 paper's figures for DNABERT-2 (117M), x 100 (MCC; macro F1 for virus/covid).
DNABERT2_SOURCE = "DNABERT-2 (117M), the DNABERT-2 paper (Zhou et al., ICLR 2024, arXiv:2306.15006), Tables 3-5"
GUE_PUBLISHED = {
    "EMP/H3": 78.27,
    "EMP/H3K14ac": 52.57,
    "EMP/H3K36me3": 56.88,
    "EMP/H3K4me1": 50.52,
    "EMP/H3K4me2": 31.13,
    "EMP/H3K4me3": 36.27,
    "EMP/H3K79me3": 67.39,
    "EMP/H3K9ac": 55.63,
    "EMP/H4": 80.71,
    "EMP/H4ac": 50.43,
    "tf/0": 71.99,
    "tf/1": 76.06,
    "tf/2": 66.52,
    "tf/3": 58.54,
    "tf/4": 77.43,
    "prom/prom_300_all": 86.77,
    "prom/prom_300_notata": 94.27,
    "prom/prom_300_tata": 71.59,
    "prom/prom_core_all": 69.37,
    "prom/prom_core_notata": 68.04,
    "prom/prom_core_tata": 74.17,
    "mouse/0": 56.76,
    "mouse/1": 84.77,
    "mouse/2": 79.32,
    "mouse/3": 66.47,
    "mouse/4": 52.66,
    "virus/covid": 71.02,
    "splice/reconstructed": 84.99,
}

# Every named suite's published figures by task, and a note on them that each summary prints: what they were
# checked against, or why the suite has none.
PUBLISHED: dict[str, dict[str, Published]] = {
    "gue": {task: Published(value, DNABERT2_SOURCE) for task, value in GUE_PUBLISHED.items()},
    "nt": {},
    "genomic-benchmarks": {},
}
PUBLISHED_NOTES = {
    "gue": "The published figures are DNABERT-2 (117M)'s, whatever model ran here. They are not checked against the "
    "paper's own tables, which could not be read where they were entered; mouse/0 (56.76) is the least certain "
    "(one public copy of the row reads 56.26). See docs/benchmark.md.",
    "nt": "No published column: the Nucleotide Transformer paper (Dalla-Torre et al., Nature Methods 2024) draws its "
    "per-task MCCs in Fig. 2a, and the authors' leaderboard "
    "(huggingface.co/spaces/InstaDeepAI/nucleotide_transformer_benchmark) lists them; neither could be read as text "
    "where this suite was written, and no figure is entered from memory. See docs/benchmark.md.",
    "genomic-benchmarks": "No published column: Genomic Benchmarks (Grešová et al., BMC Genomic Data 2023) reports "
    "its own CNN baseline, not the models run here.",
}


def published(suite: str, task: str) -> tuple[float | None, str | None]:
    """(value, source) of `suite`'s published figure for `task`; (None, None) where there is none."""
    figure = PUBLISHED.get(suite, {}).get(task)
    return (None, None) if figure is None else (figure.value, figure.source)


def script_settings(values: tuple, learning_rate: float) -> dict:
    """One script line's flags as `multimolecule train` settings. The scripts train with one learning rate (the
    head too), no early stopping and no shifted views; `--warmup_steps` is a step count (transformers reads a
    `warmup_ratio` of 1 or more as steps)."""
    max_length, batch, eval_batch, epochs, eval_steps, warmup, *rest = values
    settings = {
        "max_length": max_length,
        "batch_size": batch,
        "eval_batch_size": eval_batch,
        "epochs": float(epochs),
        "eval_steps": eval_steps,
        "warmup_ratio": float(warmup),
        "learning_rate": learning_rate,
        "head_learning_rate": learning_rate,
        "early_stopping_patience": 0,
        "shifts": 0,
    }
    if rest and rest[0] is not None:
        settings["max_steps"] = rest[0]
    if len(rest) > 1:
        settings["gradient_accumulation_steps"] = rest[1]
    return settings


GUE_SETTINGS = {
    task: {
        "finetune": script_settings(dnabert2, GUE_LEARNING_RATES["finetune"]),
        # run_nt.sh's LoRA: alpha 16 on `query,value,key,dense` (our module names are the originals')
        "lora": script_settings(nt, GUE_LEARNING_RATES["lora"])
        | {"lora_alpha": 16, "lora_target_modules": ["query", "value", "key", "dense"]},
    }
    for tasks, dnabert2, nt in GUE_GROUPS
    for task in tasks
}
GUE_TASKS = list(GUE_SETTINGS)

NT_SETTINGS = {
    "finetune": {"batch_size": 8, "max_steps": 10_000, "eval_steps": 1000, "early_stopping_patience": 0},
    "lora": {"batch_size": 8, "max_steps": 10_000, "eval_steps": 1000, "early_stopping_patience": 0}
    | {"learning_rate": 3e-3, "head_learning_rate": 3e-3},
}


# --------------------------------------------------------------------------------------------- the folders


def is_task_folder(folder: Path) -> bool:
    """A folder with a train, dev or test table: a task (then checked for all three)."""
    return any(find_split(folder, split) is not None for split in ("train", "dev", "test"))


def task_folders(root: Path) -> list[Path]:
    """The task folders under `root`, at any depth (GUE nests them one level: `EMP/H3`), sorted."""
    return sorted(path for path in root.rglob("*") if path.is_dir() and is_task_folder(path))


def gue_tasks(data: Path) -> list[BenchmarkTask]:
    """The GUE tasks found in `data` (the GUE folder, or a folder holding it), with the scripts' settings."""
    if (data / "GUE").is_dir():
        data = data / "GUE"
    found = [name for name in GUE_TASKS if (data / name).is_dir()]
    if not found:
        raise InputError(f"no GUE task in {data}: expected folders such as EMP/H3, prom/prom_300_all, tf/0")
    missing = len(GUE_TASKS) - len(found)
    if missing:
        print(f"note: {missing} of the {len(GUE_TASKS)} GUE tasks are not in {data}", flush=True)
    tasks = []
    for name in found:
        metric = "f1" if name == "virus/covid" else "mcc"
        tasks.append(BenchmarkTask(name, data / name, metric, GUE_SETTINGS[name], *published("gue", name)))
    return tasks


def folder_tasks(root: Path, metric: str = "mcc", settings: dict | None = None) -> list[BenchmarkTask]:
    """Every task folder under `root` (GUE layout), named by its path below `root`."""
    folders = task_folders(root)
    if not folders:
        raise InputError(f"no tasks in {root}: expected subfolders with train.csv, dev.csv and test.csv")
    return [BenchmarkTask(f.relative_to(root).as_posix(), f, metric, settings or {}) for f in folders]


def write_task(folder: Path, splits: dict[str, list[tuple[str, str]]]) -> None:
    """Write (sequence, label) rows as a GUE-layout task; a missing dev split is cut from train (10%, seeded)."""
    if "dev" not in splits and "train" in splits:
        rows = list(splits["train"])
        random.Random(DEV_SEED).shuffle(rows)
        cut = max(1, round(len(rows) * DEV_FRACTION))
        splits = {**splits, "dev": rows[:cut], "train": rows[cut:]}
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in splits.items():
        temporary = folder / f".{split}.csv.{os.getpid()}.tmp"  # torchrun's ranks may write the same task
        with open(temporary, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["sequence", "label"])
            writer.writerows(rows)
        temporary.replace(folder / f"{split}.csv")


def genomic_benchmarks_tasks(root: Path, output: Path) -> list[BenchmarkTask]:
    """Genomic Benchmarks as its package writes them (`<dataset>/{train,test}/<class>/<id>.txt`, one sequence a
    file; a folder of such datasets, or one), written in the GUE layout under `output`."""
    datasets = [root] if (root / "train").is_dir() else sorted(p for p in root.iterdir() if (p / "train").is_dir())
    if not datasets:
        raise InputError(f"no tasks in {root}: expected <dataset>/train/<class>/*.txt (the genomic-benchmarks layout)")
    tasks = []
    for dataset in datasets:
        splits = {}
        for split in ("train", "test"):
            if not (dataset / split).is_dir():
                raise InputError(f"{dataset}: no {split} split (expected {dataset / split}/<class>/*.txt)")
            splits[split] = [
                (file.read_text().strip(), label.name)
                for label in sorted(p for p in (dataset / split).iterdir() if p.is_dir())
                for file in sorted(label.glob("*.txt"))
            ]
        write_task(output / dataset.name, splits)
        figure = published("genomic-benchmarks", dataset.name)
        tasks.append(BenchmarkTask(dataset.name, output / dataset.name, "accuracy", {}, *figure))
    return tasks


def nt_tasks(source: str, output: Path) -> list[BenchmarkTask]:
    """The revised Nucleotide Transformer tasks through `datasets.load_dataset(source)` (the Hub id, or a local
    copy: a folder of train/test tables with `sequence`, `label` and `task` columns), written in the GUE layout
    under `output`, one task per value of the `task` column."""
    try:
        from datasets import load_dataset
    except ImportError as error:
        raise InputError("the nt suite needs datasets: pip install 'multimolecule[benchmark]'") from error
    try:
        dataset = load_dataset(str(source))
    except Exception as error:  # no network, an unknown id, unreadable files: many types
        raise InputError(f"cannot load {source} with datasets: {' '.join(str(error).split())}") from error
    for split in ("train", "test"):
        if split not in dataset:
            raise InputError(f"{source} has no {split} split (splits: {', '.join(dataset)})")
        missing = {"sequence", "label"} - set(dataset[split].column_names)
        if missing:
            raise InputError(f"{source} {split} split has no {', '.join(sorted(missing))} column")
    rows: dict[str, dict[str, list]] = {}
    for split in ("train", "test"):
        table = dataset[split]
        names = table["task"] if "task" in table.column_names else [Path(str(source)).name] * len(table)
        for name, sequence, label in zip(names, table["sequence"], table["label"]):
            rows.setdefault(name, {"train": [], "test": []})[split].append((sequence, label))
    tasks = []
    for name in sorted(rows):
        write_task(output / name, rows[name])
        tasks.append(BenchmarkTask(name, output / name, "mcc", NT_SETTINGS, *published("nt", name)))
    return tasks


def load_suite(suite: str, data: str | None, work: Path) -> list[BenchmarkTask]:
    """The tasks of `suite` (`gue`, `nt`, `genomic-benchmarks`, or a folder of GUE-layout tasks). `data` is the
    suite's folder (`gue`, `genomic-benchmarks`) or the `nt` suite's Hub id or local copy; `work` is where the
    converted suites are written."""
    if suite == "gue":
        return gue_tasks(required_folder(suite, data))
    if suite == "genomic-benchmarks":
        return genomic_benchmarks_tasks(required_folder(suite, data), work)
    if suite == "nt":
        source = data or NT_HUB_ID
        return nt_tasks(source, work)
    if data is not None:
        raise InputError(f"--data goes with a named suite ({', '.join(SUITES)}); {suite} is a folder itself")
    folder = Path(suite)
    if not folder.is_dir():
        raise InputError(f"unknown suite {suite!r}: choose {', '.join(SUITES)} or a folder of tasks")
    return folder_tasks(folder)


def required_folder(suite: str, data: str | None) -> Path:
    if data is None:
        raise InputError(f"the {suite} suite needs --data DIR (its folder as downloaded)")
    if not Path(data).is_dir():
        raise InputError(f"data folder not found: {data}")
    return Path(data)


def select_tasks(tasks: list[BenchmarkTask], names: list[str] | None) -> list[BenchmarkTask]:
    """The tasks named in `names` (a task, or a group such as `EMP` for `EMP/*`); all without names."""
    if not names:
        return tasks
    chosen = []
    for name in names:
        matched = [t for t in tasks if t.name == name or t.name.startswith(name.rstrip("/") + "/")]
        if not matched:
            raise InputError(f"unknown task {name!r}; this suite has: {', '.join(t.name for t in tasks)}")
        chosen += [t for t in matched if t not in chosen]
    return chosen


def check_task(task: BenchmarkTask) -> list[str]:
    """Read a task's three splits (`InputError` for a missing split, column or label) and check that every split
    has the same labels; returns the sorted labels."""
    try:
        splits = read_splits(task.folder, require=("train", "dev", "test"))
    except InputError as error:
        raise InputError(f"task {task.name}: {error}") from error
    if splits.task.level != "sequence" or splits.task.kind not in ("binary", "multiclass"):
        raise InputError(f"task {task.name}: the benchmark takes sequence classification, not {splits.task.describe()}")
    column = splits.task.label_columns[0]
    labels = {split: sorted({str(row[column]).strip() for row in rows}) for split, rows in splits.rows.items()}
    if len({tuple(values) for values in labels.values()}) > 1:
        shown = "; ".join(f"{split} {', '.join(values)}" for split, values in labels.items())
        raise InputError(f"task {task.name}: labels differ between splits ({shown})")
    return labels["train"]


def read_task(folder: Path) -> dict[str, tuple[list[str], list[str]]]:
    """{split: (sequences, labels)} of a checked task folder."""
    out = {}
    for split in ("train", "dev", "test"):
        rows = read_table(find_split(folder, split))
        out[split] = ([row["sequence"].strip() for row in rows], [str(row["label"]).strip() for row in rows])
    return out
