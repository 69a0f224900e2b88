"""The Python API behind the `multimolecule` command line: one function per command.

- `fill_mask(sequences, ...)`: top-k predictions for each `<mask>`, plus the probability of each first base.
- `embed(inputs, output=None, ...)`: per-sequence (and per-base) embeddings, windowed for long sequences.
- `convert(checkpoint, output, ...)`: an original DNABERT-2 / Nucleotide Transformer checkpoint -> ours.
- `info(model)`: what a checkpoint is.
- `train(data, output_dir, ...)`, `evaluate(model, data, ...)`, `predict(inputs, model, ...)`: fine-tuning.
- `pretrain(data, output_dir, ...)`, `train_tokenizer(data, output, ...)`: masked-LM pretraining on genomes.
- `score_variants(variants, reference, ...)`, `mutagenesis(target, ...)`: variant effect (docs/variants.md).

`model` is a directory, a Hugging Face Hub id, or a bundled demo (`"dnabert2-demo"`, the default, or
`"nt-demo"`), in the multimolecule layout or as the original authors published it (`zhihan1996/DNABERT-2-117M`,
`InstaDeepAI/nucleotide-transformer-v2-100m-multi-species`, or their downloaded directories): originals load
as they are, through `multimolecule.from_pretrained`. Bad input raises `InputError` (or `ConversionError`) with a
one-line message.

This module is the facade: it re-exports the engines' entry points (`fill_mask`, `embed`, `convert`, `info`) and
holds thin entry functions; the work is done in `multimolecule.fill_mask`, `embedding`, `checkpoints`,
`training`, `pretraining` and `variants` (see docs/architecture.md).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .checkpoints import convert, detect_model, info
from .demo import DEFAULT_MODEL
from .embedding import Embeddings, embed, save_embeddings
from .fill_mask import fill_mask
from .models import load_model, resolve_name, special_template, token_lengths, trained_window
from .pretraining.config import resolve_pretrain_config
from .pretraining.tokenizer import train_bpe_tokenizer
from .seqio import Inputs, read_sequences, revcomp
from .training.config import resolve_config
from .utils import InputError, OptionError, check_apart, check_overwrite, check_positive
from .utils.batching import default_max_tokens
from .variants import ModelContext, Scorer, VariantScores, run_mutagenesis, run_score_variants
from .variants.plot import check_plot, plot_mutagenesis

__all__ = [
    "Embeddings",
    "InputError",
    "OptionError",
    "VariantScores",
    "convert",
    "detect_model",
    "embed",
    "evaluate",
    "fill_mask",
    "info",
    "load_model",
    "mutagenesis",
    "predict",
    "pretrain",
    "read_sequences",
    "resolve_name",
    "revcomp",
    "save_embeddings",
    "score_variants",
    "special_template",
    "token_lengths",
    "train",
    "train_tokenizer",
    "trained_window",
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

    if output_dir is not None and settings.get("resume") and config is None:
        saved = Path(output_dir) / "train_config.yaml"
        config = saved if saved.is_file() else None
    run = resolve_config(config, {"data": data, "output_dir": output_dir, **settings})
    return run_training(run)


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

    if output_dir is not None and options.get("resume") and settings is None:
        saved = Path(output_dir) / "pretrain_config.yaml"
        settings = saved if saved.is_file() else None
    if isinstance(data, (list, tuple)):
        data = ",".join(str(item) for item in data)
    return run_pretraining(resolve_pretrain_config(settings, {"data": data, "output_dir": output_dir, **options}))


def train_tokenizer(
    data: str | os.PathLike | Sequence[str | os.PathLike],
    output: str | os.PathLike,
    vocab_size: int = 4096,
    max_token_length: int = 32,
    max_bases: int | None = 100_000_000,
    overwrite: bool = False,
):
    """Train a DNABERT-2-style BPE tokenizer (`vocab_size` tokens, specials at DNABERT-2's ids 0-4, then
    A C G T) on the genomes `data` and save it in `output`; returns the `DnaBert2Tokenizer`.

    Example:
        >>> from multimolecule.api import train_tokenizer
        >>> len(train_tokenizer("genomes/", "bpe", vocab_size=1024))  # doctest: +SKIP
        1024
    """
    return train_bpe_tokenizer(data, output, vocab_size, max_token_length, max_bases, overwrite=overwrite)


# ------------------------------------------------------------------------------------------------- variants


def variant_scorer(model, score, layer, reverse_complement, max_tokens, batch_size, device, dtype):
    """The `variants.Scorer` of `model`: a masked LM, or a `multimolecule train` output (with a task.json)."""
    from .training.inference import load_fine_tuned  # here, not at the top: see `train`

    if (Path(resolve_name(model)) / "task.json").is_file():
        network, tokenizer, task = load_fine_tuned(model, device, dtype)
    else:
        network, tokenizer, task = *load_model(model, device, dtype), None
    window = trained_window(tokenizer, network.config)
    context = ModelContext(
        network, tokenizer, special_template(tokenizer), window, token_lengths(network, tokenizer), task
    )
    budget = max_tokens or default_max_tokens(network.device)
    return Scorer(context, score, layer, reverse_complement, max(budget, window), batch_size)


def score_variants(
    variants: str | os.PathLike,
    reference: str | os.PathLike,
    model: str | None = None,
    output: str | os.PathLike | None = None,
    score: str | Sequence[str] = "llr",
    window: int | None = None,
    layer: int = -1,
    reverse_complement: bool = False,
    batch_size: int | None = None,
    max_tokens: int | None = None,
    device: str | None = "cpu",
    dtype: str | None = None,
    progress: bool = False,
    resume: bool = False,
    overwrite: bool = False,
) -> VariantScores:
    """Score the variants of a VCF/BCF or TSV (chrom, pos, ref, alt) on a reference FASTA with `model`.

    `score` is one or more of `llr`, `pll`, `cosine`, `l2`, `dot` (masked language models) and `head` (a model
    fine-tuned with `train`; `cosine`, `l2`, `dot` work with it too), defined in `multimolecule.variants.scores`
    and docs/variants.md. `window`: bases per window, centred on the variant (default: the model's trained length
    in tokens, in bases). `layer`: the hidden state of the embedding scores (-1, the last). `output` (`.tsv`, or
    `.vcf`/`.vcf.gz`/`.bcf` for a VCF input) is written atomically; with `resume` (or under `torchrun`) finished
    shards are kept in `<output>.shards/`. Returns a `VariantScores` (`.rows()`: one dict per ALT allele).

    Example:
        >>> from multimolecule.api import score_variants
        >>> result = score_variants("variants.vcf.gz", "genome.fa", score=["llr", "cosine"])  # doctest: +SKIP
        >>> result.rows()[0]["status"]  # doctest: +SKIP
        'ok'
    """
    check_positive("window", window)
    if output is not None:
        check_apart(output, [variants, reference])
    scorer = variant_scorer(model, score, layer, reverse_complement, max_tokens, batch_size, device, dtype)
    window = window or scorer.context.default_bases()
    settings = {"model": str(model or DEFAULT_MODEL), "scores": scorer.scores, "window": window, "layer": layer}
    settings["reverse_complement"] = reverse_complement
    return run_score_variants(variants, reference, scorer, window, output, settings, progress, resume, overwrite)


def mutagenesis(
    target: str | os.PathLike,
    model: str | None = None,
    output: str | os.PathLike | None = None,
    plot: str | os.PathLike | None = None,
    score: str | Sequence[str] = "llr",
    record: str | None = None,
    window: int | None = None,
    layer: int = -1,
    reverse_complement: bool = False,
    batch_size: int | None = None,
    max_tokens: int | None = None,
    device: str | None = "cpu",
    dtype: str | None = None,
    progress: bool = False,
    overwrite: bool = False,
) -> VariantScores:
    """Every SNV of `target` (`SEQUENCE_OR_FASTA[:start-end]`, 1-based and inclusive; a FASTA's first record or
    `record`) scored as in `score_variants`; `output` a TSV, `plot` a .png/.svg/.pdf picture of the first score.

    Example:
        >>> from multimolecule.api import mutagenesis
        >>> result = mutagenesis("ATGAAACGCATTAGCACCACCATTACCACCACCATCACC:10-12", model="nt-demo")
        >>> len(result.variants), result.columns
        (9, ['llr'])
    """
    check_positive("window", window)
    for path in (output, plot):
        if path is not None:
            check_apart(path, [target, str(target).rpartition(":")[0]])
            check_overwrite(path, overwrite)
    if plot is not None:
        check_plot(plot)
    scorer = variant_scorer(model, score, layer, reverse_complement, max_tokens, batch_size, device, dtype)
    window = window or scorer.context.default_bases()
    result = run_mutagenesis(target, scorer, window, record, output, progress, overwrite)
    if plot is not None:
        plot_mutagenesis(result, plot, overwrite=overwrite)
    return result
