"""`score-variants` memory on a long variant file: resident memory (RSS) sampled over the whole run.

    python benchmarks/variant_memory.py [--variants 100000] [--window 24] [--score llr] [--threads N]

Generates a reference (four 1 Mb contigs of seeded random DNA) and a VCF of `--variants` SNVs at distinct random
positions on it, then runs `python -m multimolecule score-variants VCF -r FASTA -o scores.tsv -m nt-demo` (the
bundled demo model, CPU) as a child process and samples its RSS every `--every` seconds. Prints RSS at every
tenth of the run and the peak: flat memory means the RSS stops growing once the model is loaded, whatever the
number of variants. The window is short by default (`--window 24`, four 6-mers) so that 100,000 variants score in
about a quarter of an hour on a CPU; what grows with the number of variants (the variants, their statuses, the
scores; the windows are cut shard by shard) depends little on it.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

CONTIGS, CONTIG_LENGTH = 4, 1_000_000


def write_inputs(folder: Path, count: int, seed: int = 0) -> tuple[Path, Path]:
    """(VCF, FASTA): `count` SNVs, sorted, on a generated reference."""
    rng = random.Random(seed)
    genome = {f"chr{c + 1}": "".join(rng.choices("ACGT", k=CONTIG_LENGTH)) for c in range(CONTIGS)}
    with open(folder / "reference.fa", "w") as fasta:
        for name, sequence in genome.items():
            fasta.write(f">{name}\n")
            fasta.writelines(sequence[i : i + 80] + "\n" for i in range(0, len(sequence), 80))
    header = ["##fileformat=VCFv4.2"] + [f"##contig=<ID={name},length={CONTIG_LENGTH}>" for name in genome]
    header.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    sites = sorted(rng.sample(range(CONTIGS * (CONTIG_LENGTH - 200)), count))
    with open(folder / "variants.vcf", "w") as vcf:
        vcf.write("\n".join(header) + "\n")
        for site in sites:
            name, position = f"chr{site // (CONTIG_LENGTH - 200) + 1}", site % (CONTIG_LENGTH - 200) + 100
            ref = genome[name][position - 1]
            alt = rng.choice([base for base in "ACGT" if base != ref])
            vcf.write(f"{name}\t{position}\t.\t{ref}\t{alt}\t.\tPASS\t.\n")
    return folder / "variants.vcf", folder / "reference.fa"


def rss(process: psutil.Process) -> int:
    """Resident bytes of `process` and its children."""
    total = 0
    for each in [process, *process.children(recursive=True)]:
        try:
            total += each.memory_info().rss
        except psutil.Error:
            pass
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variants", type=int, default=100_000)
    parser.add_argument("--window", type=int, default=24)
    parser.add_argument("--score", default="llr")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--every", type=float, default=0.5, help="seconds between RSS samples")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        started = time.perf_counter()
        vcf, fasta = write_inputs(folder, args.variants)
        seconds = time.perf_counter() - started
        print(f"inputs: {args.variants:,} SNVs on {CONTIGS} x {CONTIG_LENGTH:,} bp ({seconds:.0f} s)")
        command = [sys.executable, "-m", "multimolecule", "score-variants", str(vcf), "-r", str(fasta)]
        command += ["-o", str(folder / "scores.tsv"), "-m", "nt-demo", "-s", args.score, "--window", str(args.window)]
        command += ["-q"]
        env = dict(os.environ)
        if args.threads:
            env.update(OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        watched, samples = psutil.Process(child.pid), []
        while child.poll() is None:
            memory = rss(watched)
            if memory:  # 0 once the process has ended
                samples.append((time.perf_counter() - started, memory))
            time.sleep(args.every)
        out, err = child.communicate()
        seconds = time.perf_counter() - started
        if child.returncode != 0:
            sys.exit(f"score-variants failed ({child.returncode}): {err.strip()[-2000:]}")
        print(out.strip())
        print(f"{args.variants:,} variants in {seconds:.0f} s ({args.variants / seconds:,.0f} variants/s)")
        print("| time (s) | share of the run | RSS (MB) |")
        print("|---:|---:|---:|")
        for tenth in range(1, 11):
            at, memory = max((s for s in samples if s[0] <= seconds * tenth / 10), default=samples[-1])
            print(f"| {at:.0f} | {tenth * 10}% | {memory / 2**20:.0f} |")
        peak = max(samples, key=lambda s: s[1])
        print(f"peak RSS {peak[1] / 2**20:.0f} MB at {peak[0]:.0f} s of {seconds:.0f} s")


if __name__ == "__main__":
    main()
