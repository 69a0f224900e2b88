"""The benchmark's outputs, merged from the finished units (`runs/<task>/<mode>/seed-<seed>/result.json`):
`results.csv` (one row per task x mode x seed x metric), `summary.md` (per task: each mode's mean ± sd over the
seeds, the published figure and the k-mer floor; below the table the figures' sources and the suite's note on them,
`suites.PUBLISHED_NOTES`: what they were checked against, or why the suite has none) and `summary.png` (the same as
a bar chart, the published figures as diamonds).

Merging reads every unit file there is, so any process (a shard, a rank, a resumed run) can merge at any time;
the last one to finish writes the complete tables.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
from pathlib import Path

from .suites import PUBLISHED_NOTES

RESULT = "result.json"
COLUMNS = ("task", "mode", "seed", "metric", "value")
MODE_ORDER = ("finetune", "lora", "probe", "kmer")


def unit_folder(output: Path, task: str, mode: str, seed: int) -> Path:
    return output / "runs" / task / mode / f"seed-{seed}"


def write_json(path: Path, value) -> None:
    """Write `value` as JSON through a temporary file renamed into place (the file appears complete or not)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(value, indent=1) + "\n")
    temporary.replace(path)


def read_results(output: Path) -> list[dict]:
    """Every finished unit under `output/runs`, sorted by task, mode and seed."""
    units = [json.loads(path.read_text()) for path in (output / "runs").rglob(RESULT)]
    order = {mode: i for i, mode in enumerate(MODE_ORDER)}
    return sorted(units, key=lambda u: (u["task"], order.get(u["mode"], 9), u["seed"]))


def write_results_csv(output: Path, units: list[dict]) -> Path:
    path = output / "results.csv"
    temporary = path.with_name(f".results.csv.{os.getpid()}.tmp")
    with open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for unit in units:
            for metric, value in unit["metrics"].items():
                writer.writerow([unit["task"], unit["mode"], unit["seed"], metric, value])
    temporary.replace(path)
    return path


def summarise(units: list[dict], tasks: list[dict]) -> list[dict]:
    """Per task (`tasks`: name, metric, published, source, in order): per mode the task metric's mean, sd and
    per-seed values, x 100 (as the papers print them)."""
    rows = []
    for task in tasks:
        modes = {}
        for unit in (u for u in units if u["task"] == task["name"]):
            modes.setdefault(unit["mode"], []).append((unit["seed"], 100 * unit["metrics"][task["metric"]]))
        stats = {}
        for mode, values in modes.items():
            numbers = [v for _, v in values]
            sd = statistics.stdev(numbers) if len(numbers) > 1 else 0.0
            stats[mode] = {"mean": statistics.fmean(numbers), "sd": sd, "seeds": values}
        rows.append({**task, "modes": stats})
    return rows


def cell(stat: dict | None) -> str:
    if stat is None:
        return "—"
    return f"{stat['mean']:.2f} ± {stat['sd']:.2f} (n={len(stat['seeds'])})"


def write_summary(output: Path, rows: list[dict], settings: dict, expected_units: int, finished: int) -> Path:
    """`summary.md`: the run's settings and the table of `rows` (see `summarise`)."""
    modes = [m for m in MODE_ORDER if any(m in row["modes"] for row in rows)]
    published = any(row.get("published") is not None for row in rows)
    header = ["task", "metric", *modes] + (["published"] if published else [])
    lines = [
        f"# Benchmark: {settings['suite']} with {settings['model']}",
        "",
        f"{finished} of {expected_units} task x mode x seed units finished"
        + ("" if finished >= expected_units else " (a partial table: other shards or ranks are still running)."),
        "",
        "Test-split scores x 100, mean ± sd over the seeds (per-seed values in results.csv); `kmer` is a logistic",
        "regression on 1- to 6-mer frequencies, `probe` one on the frozen, mean-pooled embeddings.",
        "",
        "| " + " | ".join(header) + " |",
        "| " + " | ".join("---" for _ in header) + " |",
    ]
    sources = sorted({row["source"] for row in rows if row.get("published") is not None and row.get("source")})
    for row in rows:
        values = [row["name"], row["metric"].upper() if row["metric"] != "accuracy" else "accuracy"]
        values += [cell(row["modes"].get(mode)) for mode in modes]
        if published:
            values.append("—" if row.get("published") is None else f"{row['published']:.2f}")
        lines.append("| " + " | ".join(values) + " |")
    lines.append("")
    if sources:
        lines += ["Published: " + "; ".join(sources) + ".", ""]
    if PUBLISHED_NOTES.get(settings["suite"]):
        lines += [PUBLISHED_NOTES[settings["suite"]], ""]
    lines += ["## Settings", "", "```json", json.dumps(settings, indent=1), "```", ""]
    path = output / "summary.md"
    temporary = path.with_name(f".summary.md.{os.getpid()}.tmp")
    temporary.write_text("\n".join(lines))
    temporary.replace(path)
    return path


def plot_summary(output: Path, rows: list[dict], title: str) -> Path | None:
    """`summary.png`: per task, a bar per mode (mean, sd as error bar) and the published figure as a diamond."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("note: no plot (pip install matplotlib)", flush=True)
        return None
    modes = [m for m in MODE_ORDER if any(m in row["modes"] for row in rows)]
    if not rows or not modes:
        return None
    colours = {"finetune": "#1b7837", "lora": "#5aae61", "probe": "#2166ac", "kmer": "#bababa"}
    height = 0.8 / len(modes)
    figure, axes = plt.subplots(figsize=(9, 1.2 + 0.45 * len(rows) * max(1, len(modes) / 2)))
    for i, mode in enumerate(modes):
        positions = [t + (i - (len(modes) - 1) / 2) * height for t in range(len(rows))]
        means = [row["modes"].get(mode, {}).get("mean", float("nan")) for row in rows]
        sds = [row["modes"].get(mode, {}).get("sd", 0.0) for row in rows]
        axes.barh(positions, means, height, xerr=sds, label=mode, color=colours.get(mode), capsize=2)
    marked = [(t, row["published"]) for t, row in enumerate(rows) if row.get("published") is not None]
    if marked:
        axes.scatter([v for _, v in marked], [t for t, _ in marked], marker="D", color="black", zorder=3,
                     label="published")  # fmt: skip
    axes.set_yticks(range(len(rows)), [f"{row['name']} ({row['metric']})" for row in rows])
    axes.invert_yaxis()
    axes.axvline(0, color="black", linewidth=0.5)
    axes.set_xlabel("test score x 100 (mean ± sd over seeds)")
    axes.set_title(title)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")  # outside: never over a bar
    figure.tight_layout()
    path = output / "summary.png"
    temporary = path.with_name(f".summary.{os.getpid()}.png")
    figure.savefig(temporary, dpi=120, format="png")
    plt.close(figure)
    temporary.replace(path)
    return path


def merge(output: Path, settings: dict) -> dict:
    """Rebuild `results.csv`, `summary.md` and `summary.png` from every finished unit in `output`; returns the
    summary rows' statistics by task and mode."""
    units = read_results(output)
    write_results_csv(output, units)
    tasks = settings["tasks"]
    rows = summarise(units, tasks)
    planned = {(t["name"], m, s) for t in tasks for m in settings["modes"] for s in settings["seeds"]}
    finished = sum((u["task"], u["mode"], u["seed"]) in planned for u in units)
    write_summary(output, rows, settings, len(planned), finished)
    plot_summary(output, rows, f"{Path(settings['suite']).name}: {Path(str(settings['model'])).name}")
    return {row["name"]: row["modes"] for row in rows}
