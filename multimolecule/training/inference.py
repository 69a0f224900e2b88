"""Using a fine-tuned model: predictions for new sequences, and metrics on labelled data."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import torch
from transformers import EvalPrediction

from ..models import load_model, resolve_name, silence_transformers, trained_window
from ..seqio import as_records
from ..utils import InputError, atomic_output, check_apart, check_overwrite, check_positive
from ..utils.batching import default_max_tokens, token_budget_batches
from ..utils.progress import progress_bar
from .collator import DataCollatorForBaseLevelLabels
from .data import encode_rows, read_splits
from .metrics import TaskMetrics
from .tables import read_table, table_format
from .tasks import Task


def load_fine_tuned(model: str | os.PathLike, device: str | None = "cpu", dtype: str | None = None):
    """(model in eval mode, tokenizer, task) of a `multimolecule train` output directory."""
    path = Path(resolve_name(model, check=True))
    if not (path / "task.json").is_file():
        raise InputError(f"{model} is not a fine-tuned model (no task.json); train one with `multimolecule train`")
    task = Task.from_dict(json.loads((path / "task.json").read_text()))
    silence_transformers()
    network, tokenizer = load_model(path, device, dtype, task=f"{task.level}-prediction")
    return network, tokenizer, task


def check_batching(batch_size: int | None, max_tokens: int | None) -> None:
    """Both are whole numbers of at least 1, or None (then the defaults: no count limit, `default_max_tokens`)."""
    check_positive("batch_size", batch_size)
    check_positive("max_tokens", max_tokens)


def read_inputs(inputs, task: Task) -> tuple[list[str], list[dict]]:
    """(ids, rows with the task's sequence columns) from a FASTA file, a table, a list or a mapping."""
    if isinstance(inputs, (str, os.PathLike)) and Path(inputs).is_file():
        path = Path(inputs)
        suffixes = [s.lower() for s in path.suffixes if s != ".gz"]
        if suffixes and suffixes[-1] in (".csv", ".tsv", ".jsonl", ".json", ".parquet"):
            table_format(path)
            rows = read_table(path)
            if not rows:
                raise InputError(f"{path} is empty")
            for column in task.sequence_columns:
                if column not in rows[0]:
                    raise InputError(f"{path} has no column {column!r} (columns: {', '.join(rows[0])})")
            id_column = next((c for c in rows[0] if c.lower() in ("id", "name")), None)
            ids = [str(row[id_column]) if id_column else str(i) for i, row in enumerate(rows)]
            return ids, rows
    if len(task.sequence_columns) > 1:
        raise InputError(
            "this model takes pairs of sequences: give a table with columns " + ", ".join(task.sequence_columns)
        )
    records = as_records(inputs)
    return list(records), [{task.sequence_columns[0]: sequence} for sequence in records.values()]


@torch.no_grad()
def run_model(
    network,
    tokenizer,
    task: Task,
    rows: list[dict],
    batch_size: int | None,
    labels: bool,
    progress: bool,
    on_batch,
    max_tokens: int | None = None,
):
    """Encode `rows`, run them longest first in batches of at most `max_tokens` padded tokens (and `batch_size`
    rows), and call `on_batch(indices, logits, labels)`; see `multimolecule.utils.batching`."""
    max_length = trained_window(tokenizer, network.config)
    examples, cut = encode_rows(rows, task, tokenizer, max_length, tokenizer.token_lengths, "input", labels=labels)
    if cut and task.level != "sequence":
        raise InputError(
            f"{cut} sequences are longer than the model's {max_length} tokens; per-base predictions need them cut "
            "into windows first"
        )
    if cut:
        print(f"note: {cut} sequences are longer than {max_length} tokens; only their start is used")
    collator = DataCollatorForBaseLevelLabels(tokenizer)
    budget = max_tokens or default_max_tokens(network.device)
    batches = token_budget_batches([len(example["input_ids"]) for example in examples], budget, batch_size)
    lengths = [sum(len(str(rows[i][c])) for c in task.sequence_columns) for i in range(len(rows))]
    with progress_bar(sum(lengths), progress) as bar:
        for chosen in batches:
            batch = collator([examples[i] for i in chosen])
            target = batch.pop("labels", None)
            batch = {k: v.to(network.device) for k, v in batch.items()}
            logits = network(**batch).logits.float().cpu()
            on_batch(chosen, logits, target)
            bar.update(sum(lengths[i] for i in chosen))


def evaluate_model(
    model,
    data=None,
    file=None,
    split: str = "test",
    batch_size: int | None = None,
    device=None,
    dtype=None,
    progress=False,
    max_tokens: int | None = None,
) -> dict:
    """Metrics of a fine-tuned model on a labelled split (a GUE folder's `split`, or one file)."""
    check_batching(batch_size, max_tokens)
    network, tokenizer, task = load_fine_tuned(model, device, dtype)
    if data is None and file is None:
        raise InputError("give labelled data: a folder (--data) or a file")
    given = {split: file} if file is not None else {}
    splits = read_splits(data, **given, require=(split,), task=task)
    metrics = TaskMetrics(task)

    def on_batch(indices, logits, labels):
        metrics(EvalPrediction(predictions=logits, label_ids=labels), compute_result=False)

    run_model(network, tokenizer, task, splits.rows[split], batch_size, True, progress, on_batch, max_tokens)
    return metrics.result()


def predict_model(
    inputs,
    model,
    output=None,
    batch_size: int | None = None,
    device=None,
    dtype=None,
    progress=False,
    overwrite=False,
    max_tokens: int | None = None,
) -> list[dict]:
    """Predictions of a fine-tuned model for each input sequence (see `multimolecule.api.predict`)."""
    check_batching(batch_size, max_tokens)
    if output is not None:
        check_apart(output, [inputs, model] if isinstance(inputs, (str, os.PathLike)) else [model])
    network, tokenizer, task = load_fine_tuned(model, device, dtype)
    if output is not None:
        output_format(output, task)
        check_overwrite(output, overwrite)
    ids, rows = read_inputs(inputs, task)
    results: list[dict | None] = [None] * len(rows)

    def on_batch(indices, logits, _):
        for row, index in enumerate(indices):
            length = len(str(rows[index][task.sequence_columns[0]]))
            results[index] = {"id": ids[index], **prediction_fields(logits[row], task, length)}

    run_model(network, tokenizer, task, rows, batch_size, False, progress, on_batch, max_tokens)
    if output is not None:
        write_predictions(results, output, task, overwrite)
    return results


def prediction_fields(logits: torch.Tensor, task: Task, length: int) -> dict:
    """One sequence's prediction: label(s) and probabilities, or values; per base for per-base tasks."""
    names = task.classes or task.label_columns
    if task.level == "contact":
        probabilities = logits[:length, :length].softmax(-1)[..., 1]
        i, j = torch.nonzero(torch.triu(probabilities > 0.5, diagonal=1), as_tuple=True)
        return {
            "pairs": [[int(a), int(b)] for a, b in zip(i, j)],
            "probabilities": [round(float(probabilities[a, b]), 4) for a, b in zip(i, j)],
        }
    if task.level == "token":
        logits = logits[:length]
        if task.problem_type == "regression":
            return {"values": [round(float(v), 4) for v in logits.squeeze(-1)]}
        probabilities = logits.softmax(-1)
        labels = [names[int(k)] for k in probabilities.argmax(-1)]
        label = "".join(labels) if all(len(n) == 1 for n in names) else labels
        return {"label": label, "probabilities": [[round(float(p), 4) for p in row] for row in probabilities]}
    if task.problem_type == "regression":
        return {name: float(v) for name, v in zip(names if task.num_labels > 1 else ["value"], logits)}
    if task.problem_type == "multi_label_classification":
        probabilities = logits.sigmoid()
        chosen = [n for n, p in zip(names, probabilities) if p > 0.5]
        return {"labels": ";".join(chosen), **{f"probability_{n}": float(p) for n, p in zip(names, probabilities)}}
    probabilities = logits.softmax(-1)
    return {
        "label": names[int(probabilities.argmax())],
        **{f"probability_{n}": float(p) for n, p in zip(names, probabilities)},
    }


def output_format(output, task: Task) -> str:
    suffix = Path(output).suffix.lower()
    kind = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "jsonl"}.get(suffix)
    if kind is None:
        raise InputError(f"predictions are written as .csv, .tsv or .jsonl, not {suffix or 'no extension'}: {output}")
    if kind != "jsonl" and task.level != "sequence":
        raise InputError("per-base and base-pair predictions are written as JSON lines: use an .jsonl output")
    return kind


def write_predictions(results: list[dict], output, task: Task, overwrite: bool = False) -> None:
    """Write `results` atomically as CSV/TSV (sequence level) or JSON lines (any level)."""
    kind = output_format(output, task)
    with atomic_output(output, overwrite) as temporary, open(temporary, "w", newline="") as handle:
        if kind == "jsonl":
            for result in results:
                handle.write(json.dumps(result) + "\n")
        else:
            writer = csv.DictWriter(handle, fieldnames=list(results[0]), delimiter="," if kind == "csv" else "\t")
            writer.writeheader()
            writer.writerows(results)
