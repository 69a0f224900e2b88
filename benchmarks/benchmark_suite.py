"""`multimolecule benchmark` on the CPU: the time of each task in `probe` and `kmer` mode.

    python benchmarks/benchmark_suite.py [--model dnabert2-demo] [--limit N] [--threads 1] [--output DIR]

Builds the small suite of `scripts/benchmark_data.py` (logomaker's CRP binding sites and human 5' splice sites,
each against shuffled copies; the E. coli gene windows of `scripts/ecoli_tasks.py`), runs
`multimolecule.api.benchmark` on it in `probe` mode with one seed on the CPU, and prints per task the rows of
each split, the test MCC and the seconds of each mode, wall clock and CPU (the embedding and the regression together for
`probe`, the k-mer counting and the regression for `kmer`), read from each unit's `result.json`; on a shared
machine the CPU seconds are the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))


def main(argv: list[str] | None = None) -> None:
    from benchmark_data import write

    from multimolecule.api import benchmark

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="dnabert2-demo")
    parser.add_argument("--limit", type=int, help="rows per motif task and per E. coli split (default: all)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, help="keep the benchmark's output here (default: a temporary one)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        data = write(Path(folder) / "suite", "folder", args.limit)
        output = args.output or Path(folder) / "out"
        started = time.perf_counter()
        benchmark(str(data), output, model=args.model, modes=["probe"], seeds="42", device="cpu",
                  threads=args.threads, overwrite=True)  # fmt: skip
        total = time.perf_counter() - started
        print(f"model {args.model}, {args.threads} thread(s), total {total:.1f} s (model loading included)")
        print(
            f"{'task':10} {'train/dev/test':>18}"
            + "".join(f" {m + ' MCC':>10} {'wall s':>7} {'CPU s':>7}" for m in ("probe", "kmer"))
        )
        for task in sorted(p.name for p in data.iterdir()):
            rows = [sum(1 for _ in open(data / task / f"{s}.csv")) - 1 for s in ("train", "dev", "test")]
            units = {
                mode: json.loads((output / "runs" / task / mode / "seed-42" / "result.json").read_text())
                for mode in ("probe", "kmer")
            }
            cells = [(u["metrics"]["mcc"], u["seconds"], u["details"]["cpu_seconds"]) for u in units.values()]
            print(
                f"{task:10} {'/'.join(map(str, rows)):>18}"
                + "".join(f" {a:>10.3f} {b:>7.1f} {c:>7.1f}" for a, b, c in cells)
            )


if __name__ == "__main__":
    main()
