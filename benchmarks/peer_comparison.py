"""DNABERT-2 on a mixed-length job, this library against another installation, side by side in one run.

    python benchmarks/peer_comparison.py --peer-python ../peer-venv/bin/python [--rounds 3] [--json out.json]

The peer is any environment whose `multimolecule` package has `DnaBert2Config` and `DnaBert2Model` (for example
the published multimolecule 0.2.2); this script installs nothing, it runs `--peer-python` as given. Each
measurement is a fresh worker process (ours: this checkout, by `PYTHONPATH`; the peer: its own installation)
that builds the full-size model (`DnaBert2Config()`, random weights, seed 0), warms it up on one batch, then
times the job once.

The job is the one `throughput.py` uses: 256 random sequences of 50-3000 bases (seed 0), tokenized by
DNABERT-2's tokenizer, in batches of 8 in the order they come (not sorted: as users batch a file), every
`--stride`-th batch timed. Padded batches with an attention mask go into both libraries; real tokens/s counts
the tokens without padding. Configurations run in alternating order round after round (the machine may be
shared: the ratio within a round is what to read), and the report gives each round's ratio against the peer
and the median.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DNABERT2_TOKENIZER = ROOT.parent / "shared/fixtures/dnabert2/tiny_a/tokenizer.json"


def run_worker(spec: dict) -> dict:
    """Runs in the measured environment: build the model, warm up, time the batches."""
    import torch

    from multimolecule import DnaBert2Config, DnaBert2Model

    torch.manual_seed(0)
    config = DnaBert2Config()
    model = DnaBert2Model._from_config(config, attn_implementation=spec["attention"]).eval()
    generator = torch.Generator().manual_seed(0)
    batches = []
    for lengths in spec["batches"]:
        input_ids = torch.full((len(lengths), max(lengths)), config.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros_like(input_ids)
        for row, length in enumerate(lengths):
            input_ids[row, :length] = torch.randint(5, 4000, (length,), generator=generator)
            attention_mask[row, :length] = 1
        batches.append((input_ids, attention_mask))
    with torch.inference_mode():
        model(*batches[0])  # warm-up: kernels, allocator, threads (and the first compiled bucket, if any)
        start = time.perf_counter()
        for input_ids, attention_mask in batches:
            model(input_ids, attention_mask=attention_mask)
        seconds = time.perf_counter() - start
    tokens = sum(map(sum, spec["batches"]))
    return {"seconds": seconds, "real_tokens": tokens, "tokens_per_second": tokens / seconds}


def measure(python: str, spec: dict, ours: bool) -> dict:
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false")
    if ours:
        env["PYTHONPATH"] = str(ROOT)
    else:
        env.pop("PYTHONPATH", None)
    result = subprocess.run(
        [python, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True, env=env, check=False
    )
    if result.returncode:
        raise RuntimeError(f"worker failed ({python}): {result.stderr.strip()[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def job_batches(stride: int) -> list[list[int]]:
    """Token lengths of the job's timed batches of 8, in file order."""
    sys.path.insert(0, str(ROOT))
    from multimolecule import DnaBert2Tokenizer

    rng = random.Random(0)
    sequences = ["".join(rng.choices("ACGT", k=rng.randint(50, 3000))) for _ in range(256)]
    lengths = [len(ids) for ids in DnaBert2Tokenizer.from_original(DNABERT2_TOKENIZER)(sequences)["input_ids"]]
    return [lengths[i : i + 8] for i in range(0, len(lengths), 8)][::stride]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer-python", help="python of the peer environment (required unless --worker)")
    parser.add_argument("--peer-attention", default="sdpa", help="the peer's attn_implementation (default sdpa)")
    parser.add_argument("--attention", nargs="+", default=["sdpa", "flex_attention"], help="ours to measure")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stride", type=int, default=4, help="time every n-th batch of the job (default 4)")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return
    if not args.peer_python:
        parser.error("--peer-python is required")

    batches = job_batches(args.stride)
    configs = [("peer", args.peer_attention)] + [("ours", attention) for attention in args.attention]
    print(f"{len(batches)} batches of 8, {sum(map(sum, batches))} real tokens; load {os.getloadavg()[0]:.2f}")
    rounds = []
    for number in range(args.rounds):
        order = configs if number % 2 == 0 else configs[::-1]
        measured = {}
        for who, attention in order:
            python = args.peer_python if who == "peer" else sys.executable
            spec = {"attention": attention, "batches": batches}
            measured[f"{who} {attention}"] = measure(python, spec, ours=who == "ours")["tokens_per_second"]
        peer = measured[f"peer {args.peer_attention}"]
        line = ", ".join(f"{name} {rate:.1f} tok/s ({rate / peer:.2f}x)" for name, rate in measured.items())
        print(f"round {number + 1}: {line}; load {os.getloadavg()[0]:.2f}", flush=True)
        rounds.append(measured)
    print("median ratio to the peer:")
    summary = {}
    for name in rounds[0]:
        ratios = [r[name] / r[f"peer {args.peer_attention}"] for r in rounds]
        summary[name] = {"median_tokens_per_second": statistics.median(r[name] for r in rounds)}
        summary[name]["median_ratio"] = statistics.median(ratios)
        print(f"  {name:24} {summary[name]['median_tokens_per_second']:8.1f} tok/s  {statistics.median(ratios):.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"rounds": rounds, "summary": summary}, indent=2))


if __name__ == "__main__":
    main()
