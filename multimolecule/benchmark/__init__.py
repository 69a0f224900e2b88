"""Benchmarks of a model on published task suites: `multimolecule benchmark` (docs/benchmark.md).

- `run_benchmark(suite, output_dir, model=..., modes=..., seeds=...)`: GUE, the Nucleotide Transformer's tasks,
  Genomic Benchmarks or any folder of GUE-layout tasks, in the modes `finetune`, `lora`, `probe`, and always the
  `kmer` baseline; `results.csv`, `summary.md`, `summary.png` in the output directory.
- `suites`: the suites' tasks, the authors' per-task settings and the published figures, with their sources.
- `baselines`: k-mer frequencies and the scikit-learn logistic regression of `kmer` and `probe`.

This package sits above the engines (it runs the fine-tuning and embedding engines), beside `pretraining`
(docs/architecture.md). Its names are imported on first use (PEP 562).
"""

from ..utils.lazy import lazy_exports

MODULES = {
    "engine": ("DEFAULT_SEEDS", "MODES", "run_benchmark"),
    "suites": ("GUE_TASKS", "SUITES", "BenchmarkTask", "load_suite"),
    "baselines": ("fit_logistic_regression", "kmer_frequencies"),
}
__all__, __getattr__, __dir__ = lazy_exports(__name__, MODULES)
