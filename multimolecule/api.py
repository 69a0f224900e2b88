"""The Python API behind the `multimolecule` command line: one function per command.

- `fill_mask(sequences, ...)`: top-k predictions for each `<mask>`, plus the probability of each first base.
- `embed(inputs, output=None, ...)`: per-sequence (and per-base) embeddings, windowed for long sequences.
- `convert(checkpoint, output, ...)`: an original DNABERT-2 / Nucleotide Transformer checkpoint -> ours.
- `info(model)`: what a checkpoint is.
- `train(data, output_dir, ...)`, `evaluate(model, data, ...)`, `predict(inputs, model, ...)`: fine-tuning.
- `pretrain(data, output_dir, ...)`, `train_tokenizer(data, output, ...)`: masked-LM pretraining on genomes.
- `score_variants(variants, reference, ...)`, `mutagenesis(target, ...)`: variant effect (docs/variants.md).
- `benchmark(suite, output_dir, ...)`: GUE, the NT tasks, Genomic Benchmarks (docs/benchmark.md).

`model` is a directory, a Hugging Face Hub id, or a bundled demo (`"dnabert2-demo"`, the default, or
`"nt-demo"`), in the multimolecule layout or as the original authors published it (`zhihan1996/DNABERT-2-117M`,
`InstaDeepAI/nucleotide-transformer-v2-100m-multi-species`, or their downloaded directories): originals load
as they are, through `multimolecule.from_pretrained`. Bad input raises `InputError` (or `ConversionError`) with a
one-line message.

This module is the facade: it re-exports the engines' entry points (`fill_mask`, `embed`, `convert`, `info`,
`score_variants`, `mutagenesis`) and holds one-line entry functions; the work is done in
`multimolecule.fill_mask`, `embedding`, `checkpoints`, `training`, `pretraining`, `benchmark` and `variants` (see
docs/architecture.md).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from .checkpoints import convert, detect_model, info
from .embedding import Embeddings, embed, save_embeddings
from .fill_mask import fill_mask
from .models import load_model, resolve_name, special_template, token_lengths, trained_window
from .pretraining import tokenizer as tokenizer_training
from .pretraining.config import resolve_pretrain_config
from .pretraining.tokenizer import recipe_family
from .seqio import Inputs, read_sequences, revcomp
from .training.config import resolve_config
from .utils import InputError, OptionError
from .variants import VariantScores, predict_tracks, score_variants, variant_scorer
from .variants.mutagenesis import mutagenesis

__all__ = [
    "Embeddings",
    "InputError",
    "OptionError",
    "VariantScores",
    "benchmark",
    "convert",
    "detect_model",
    "embed",
    "evaluate",
    "fill_mask",
    "info",
    "load_model",
    "mutagenesis",
    "predict",
    "predict_tracks",
    "pretrain",
    "read_sequences",
    "recipe_family",
    "resolve_name",
    "revcomp",
    "save_embeddings",
    "score_variants",
    "special_template",
    "token_lengths",
    "train",
    "train_tokenizer",
    "trained_window",
    "variant_scorer",
]


def train(
    data: str | os.PathLike | None = None,
    output_dir: str | os.PathLike | None = None,
    config: str | os.PathLike | None = None,
    **settings,
) -> dict:
    """Fine-tune a model on labelled sequences with transformers' `Trainer`; returns `{"dev": {...}, "test": {...}}`.

    Args:
        data: a folder with `train.csv`, `dev.csv` and optionally `test.csv` (`sequence,label`, or
            `sequence1,sequence2,label` for pairs; TSV, JSON lines and Parquet work too). Or name the files with
            `train=`, `dev=`, `test=`.
        output_dir: where the fine-tuned model, its tokenizer, `train_config.yaml`, `task.json`, `log.jsonl`,
            `metrics.json` and the checkpoints (`checkpoints/`) are written.
        config: a YAML or JSON file of settings; `settings` (any key of
            `multimolecule.training.TrainConfig`: `model`, `epochs`, `learning_rate`, `lora`, ...) override it.

    The task (binary, multiclass, multi-label, regression; per sequence, per base or per base pair) is inferred
    from the training labels and printed first. Bad input raises `InputError` before any training.

    Example:
        >>> from multimolecule.api import train
        >>> metrics = train("ecoli/sequence", "finetuned", epochs=1)  # doctest: +SKIP
        >>> sorted(metrics["test"])  # doctest: +SKIP
        ['accuracy', 'auprc', 'auroc', 'f1', 'loss', 'mcc', 'precision', 'recall']
    """
    from .training.engine import run_training  # here, not at the top: transformers' Trainer is slow to import

    return run_training(resolve_config(config, {"data": data, "output_dir": output_dir, **settings}))


def evaluate(
    model: str | os.PathLike,
    data: str | os.PathLike | None = None,
    file: str | os.PathLike | None = None,
    split: str = "test",
    batch_size: int | None = None,
    device: str | None = "cpu",
    dtype: str | None = None,
    progress: bool = False,
    max_tokens: int | None = None,
) -> dict:
    """Metrics of a fine-tuned model (a `train` output directory) on labelled data: the `split` of a GUE folder
    (`data`) or one labelled `file`, in the layout it was trained on. Batches hold at most `max_tokens` padded
    tokens (default 1024 on CPU, 32768 on GPUs), longest first, and at most `batch_size` sequences if given.

    Example:
        >>> from multimolecule.api import evaluate
        >>> evaluate("finetuned", "ecoli/sequence")["mcc"]  # doctest: +SKIP
        0.8
    """
    from .training.inference import evaluate_model  # here, not at the top: see `train`

    return evaluate_model(model, data, file, split, batch_size, device, dtype, progress, max_tokens)


def predict(
    inputs: Inputs,
    model: str | os.PathLike,
    output: str | os.PathLike | None = None,
    batch_size: int | None = None,
    device: str | None = "cpu",
    dtype: str | None = None,
    progress: bool = False,
    overwrite: bool = False,
    max_tokens: int | None = None,
) -> list[dict]:
    """Predictions of a fine-tuned model (a `train` output directory) for new sequences.

    `inputs` is a FASTA file, a table (CSV/TSV/JSON lines/Parquet with the training's sequence column and an
    optional `id` column), a list of sequences or an {id: sequence} mapping. Each result has the `id` and, for
    classification, the `label` and the `probability_<class>` of every class; for regression the value(s);
    per base, one label character (and probabilities) per base; for base pairs, the predicted `pairs`.
    `output` (`.csv`, `.tsv` or `.jsonl`; per-base results need `.jsonl`) also writes them there, atomically; an
    existing file is replaced only with `overwrite=True`. Batches are formed as in `embed`: longest first, at most
    `max_tokens` padded tokens each (default 1024 on CPU, 32768 on GPUs) and at most `batch_size` sequences if
    given; results come back in the input order.

    Example:
        >>> from multimolecule.api import predict
        >>> predict(["ACGTAGCTAGCTAGCTAGGATCC"], "finetuned")[0]["label"]  # doctest: +SKIP
        '1'
    """
    from .training.inference import predict_model  # here, not at the top: see `train`

    return predict_model(inputs, model, output, batch_size, device, dtype, progress, overwrite, max_tokens)


def pretrain(
    data: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    output_dir: str | os.PathLike | None = None,
    settings: str | os.PathLike | None = None,
    **options,
) -> dict:
    """Masked-LM pretraining on genomes with transformers' `Trainer`; returns the held-out metrics.

    Args:
        data: FASTA files or folders (plain or gzip, any number of contigs), streamed.
        output_dir: where the best checkpoint (a model directory with its tokenizer), `metrics.json`,
            `log.jsonl`, `pretrain_config.yaml` and `checkpoints/` go.
        settings: a YAML or JSON file of settings; `options` (any key of
            `multimolecule.pretraining.PretrainConfig`) override it. Give `model=` (continued pretraining from a
            checkpoint) or `config=` (from scratch: `"dnabert2"`, `"nucleotide_transformer"`, a config.json or
            its folder, with `tokenizer=` and sizes such as `hidden_size=`).

    Example:
        >>> from multimolecule.api import pretrain
        >>> metrics = pretrain("genomes/", "pretrained", model="nt-demo", max_steps=100)  # doctest: +SKIP
        >>> metrics["accuracy"] > metrics["baseline_accuracy"]  # doctest: +SKIP
        True
    """
    from .pretraining.engine import run_pretraining  # here, not at the top: see `train`

    return run_pretraining(resolve_pretrain_config(settings, {"data": data, "output_dir": output_dir, **options}))


def train_tokenizer(
    data: str | os.PathLike | Sequence[str | os.PathLike],
    output: str | os.PathLike,
    vocab_size: int = 4096,
    max_token_length: int = 32,
    max_bases: int | None = 100_000_000,
    overwrite: bool = False,
    architecture: str | None = None,
):
    """Train a tokenizer by the recipe of the family `architecture` (default: the first that declares one,
    DNABERT-2's BPE: `vocab_size` tokens, specials at ids 0-4, then A C G T) on the genomes `data` and save it in
    `output`; returns it (`recipe_family(architecture)` says whose recipe it is).

    Example:
        >>> from multimolecule.api import train_tokenizer
        >>> len(train_tokenizer("genomes/", "bpe", vocab_size=1024))  # doctest: +SKIP
        1024
    """
    return tokenizer_training.train_tokenizer(
        data, output, vocab_size, max_token_length, max_bases, overwrite=overwrite, architecture=architecture
    )


def benchmark(
    suite: str,
    output_dir: str | os.PathLike,
    model: str | None = None,
    data: str | os.PathLike | None = None,
    modes: str | Sequence[str] | None = None,
    seeds: str | Sequence[int] = (42, 1, 2),
    tasks: Sequence[str] | None = None,
    config: str | os.PathLike | None = None,
    shard: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    device: str | None = "auto",
    dtype: str | None = None,
    max_tokens: int | None = None,
    batch_size: int | None = None,
    progress: bool = False,
    threads: int = 1,
) -> dict:
    """Benchmark `model` on a task suite; returns {task: {mode: {"mean", "sd", "seeds"}}}, test scores x 100.

    Args:
        suite: `"gue"` (`data`: the GUE folder as downloaded), `"nt"` (the revised Nucleotide Transformer tasks
            through `datasets`: `data` a Hub id, by default
            `InstaDeepAI/nucleotide_transformer_downstream_tasks_revised`, or a local copy),
            `"genomic-benchmarks"` (`data`: its folder layout), or a folder of GUE-layout tasks.
        output_dir: `results.csv` (task, mode, seed, metric, value), `summary.md`, `summary.png`, `settings.json`
            and `runs/<task>/<mode>/seed-<seed>/` (each `train` run's output directory).
        modes: any of `"finetune"` (the default), `"lora"`, `"probe"`; the `kmer` baseline is always run.
        seeds: one run per seed (`"42,1,2"`); the papers' metric per task (MCC; F1 for GUE's Covid task;
            accuracy for Genomic Benchmarks).
        tasks: run only these tasks (or groups such as `"EMP"`).
        config: a YAML/JSON file of `train` settings for every task, with a `tasks:` mapping for one task's own.
        shard: `"i/n"`, the i-th of n slices of the tasks; under `torchrun` each rank takes its own tasks too.
        resume: skip every finished task x mode x seed (and continue unfinished training) and merge.
        threads: CPU threads (the model on the CPU, the regressions, training); 0: all cores.

    Example:
        >>> from multimolecule.api import benchmark
        >>> table = benchmark("gue", "bench", data="GUE", modes="probe", tasks=["EMP/H3"])  # doctest: +SKIP
        >>> sorted(table["EMP/H3"])  # doctest: +SKIP
        ['kmer', 'probe']
    """
    from .benchmark.engine import run_benchmark  # here, not at the top: see `train`

    return run_benchmark(
        suite, output_dir, model, None if data is None else str(data), modes, seeds, tasks, config, shard, resume,
        overwrite, device, dtype, max_tokens, batch_size, progress, threads,
    )  # fmt: skip
