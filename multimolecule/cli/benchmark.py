"""`multimolecule benchmark`: a model on GUE, the Nucleotide Transformer's tasks, Genomic Benchmarks, or any folder
of tasks, in several modes and seeds, beside a k-mer baseline and the published figures."""

from __future__ import annotations

import argparse

from .common import MODEL_HELP, add_command, add_overwrite, add_runtime

DESCRIPTION = """Benchmark a model on a suite of sequence-classification tasks.

SUITE is one of
  gue                 --data DIR: the GUE folder as downloaded (EMP/, mouse/, prom/, splice/, tf/, virus/)
  nt                  the revised Nucleotide Transformer tasks through `datasets` (--data: a Hub id or a local
                      copy; default InstaDeepAI/nucleotide_transformer_downstream_tasks_revised)
  genomic-benchmarks  --data DIR: datasets in the layout the genomic-benchmarks package writes
  a folder            whose subfolders are tasks in the GUE layout (train.csv, dev.csv, test.csv: sequence,label)
GUE and NT tasks take the authors' per-task settings (docs/benchmark.md), overridable with --config.

Every task runs in each --mode (finetune: `multimolecule train`; lora: the same with LoRA adapters; probe: a
logistic regression on the frozen, mean-pooled embeddings) and always as `kmer` (a logistic regression on 1- to
6-mer frequencies), once per seed. OUT then holds results.csv (task,mode,seed,metric,value), summary.md (mean ±
sd, published figure, k-mer), summary.png, settings.json and runs/<task>/<mode>/seed-<seed>/ (each train run).

Scale out: torchrun --nproc-per-node 4 -m multimolecule benchmark ... (one task at a time per GPU), or
--shard i/n on n machines writing into one OUT; --resume skips every finished task x mode x seed and merges.
"""


def add(commands) -> None:
    parser = add_command(
        commands,
        "benchmark",
        run,
        help="benchmark a model on GUE, the NT tasks, Genomic Benchmarks or a folder of tasks",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("suite", metavar="SUITE", help="gue, nt, genomic-benchmarks, or a folder of tasks")
    parser.add_argument("-m", "--model", help=MODEL_HELP)
    parser.add_argument("--output-dir", metavar="OUT", required=True, help="where the results go")
    parser.add_argument("--data", metavar="DIR", help="the suite's folder (gue, genomic-benchmarks), or nt's source")
    parser.add_argument(
        "--mode",
        dest="modes",
        action="append",
        choices=("finetune", "lora", "probe"),
        help="finetune (default), lora, probe; repeat for several (kmer is always run)",
    )
    parser.add_argument(
        "--seeds", default="42,1,2", metavar="S,S,...", help="comma-separated seeds, one run each (default: 42,1,2)"
    )
    parser.add_argument("--task", dest="tasks", action="append", metavar="NAME", help="only this task or group")
    parser.add_argument(
        "--config",
        dest="settings_file",
        metavar="FILE",
        help="a YAML/JSON file of settings: train settings for every task, with tasks: for one task's",
    )
    parser.add_argument("--shard", metavar="I/N", help="run the I-th of N slices of the tasks (1/4 ... 4/4)")
    parser.add_argument("--resume", action="store_true", help="skip finished task x mode x seed units and merge")
    add_overwrite(parser)
    add_runtime(parser)
    parser.add_argument(
        "--max-tokens", type=int, metavar="N", help="probe: tokens per forward pass (default 1024 CPU, 32768 GPU)"
    )
    parser.add_argument(
        "-b", "--batch-size", type=int, metavar="N", help="probe: at most this many sequences per forward pass"
    )
    parser.add_argument("--threads", type=int, default=1, metavar="N", help="CPU threads (default 1; 0: all cores)")
    parser.add_argument("-q", "--quiet", dest="progress", action="store_false", help="no progress bar")


def run(args: argparse.Namespace) -> None:
    from .. import api  # here, not at the top: `--help` imports no torch

    table = api.benchmark(
        args.suite,
        args.output_dir,
        model=args.model,
        data=args.data,
        modes=args.modes,
        seeds=args.seeds,
        tasks=args.tasks,
        config=args.settings_file,
        shard=args.shard,
        resume=args.resume,
        overwrite=args.overwrite,
        device=args.device,
        dtype=args.dtype,
        max_tokens=args.max_tokens,
        batch_size=args.batch_size,
        progress=args.progress,
        threads=args.threads,
    )
    for task, modes in table.items():
        cells = [f"{mode} {stat['mean']:.2f} ± {stat['sd']:.2f}" for mode, stat in modes.items()]
        print(f"{task}: " + "  ".join(cells))
    print(f"results: {args.output_dir}/results.csv, {args.output_dir}/summary.md")
