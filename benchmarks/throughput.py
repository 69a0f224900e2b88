"""Inference throughput and peak memory of the full-size models, random weights.

    python benchmarks/throughput.py --model dnabert2|nucleotide_transformer|all --device cpu|cuda \
        --dtype float32|bfloat16 --json out.json [--quick]

For each model it measures, each configuration in a fresh subprocess:
  (a) full batches: 8 x 512 tokens (DNABERT-2), 4 x 1000 tokens (Nucleotide Transformer);
  (b) a mixed-length job: 256 sequences of 50-3000 random bases (seed 0), tokenized, sorted by length and cut
      into batches of 8; every `--mixed-stride`-th batch is timed (the same batches for every configuration,
      and the same sequences shuffled into unsorted batches of 8 for the naive baseline);
  (c) single inputs of 1k, 2k, 4k and 8k tokens;
each with the attention implementations of `--attention` (default: sdpa, padding-free, and eager on padded
batches, the baseline; `flex_attention` adds FlexAttention). The mixed job also runs on unsorted batches (the
naive order).

Reported per configuration: real tokens/s (padding not counted), peak memory, and the fraction of the measured
matmul rate reached, with useful FLOPs counted from the architecture:

    FLOPs = 2 * P_linear * real_tokens + sum over sequences of 4 * L^2 * hidden * layers

where P_linear is the number of weights of the encoder's Linear layers (embeddings and heads not counted) and
4 * L^2 * hidden per layer covers the two attention matmuls (scores and context) of a sequence of L tokens.
The matmul rate is the best of 10 matmuls of the model's feed-forward shape, (4096, hidden) x (hidden, 4*hidden),
in the benchmark's dtype, through each kernel the machine offers: `torch.mm` (PyTorch's BLAS, MKL on x86) and
the `multimolecule.modules.Linear` layer in inference (oneDNN for fp32 on the CPU, cuBLAS on CUDA), whichever is
faster. It is measured in each configuration's process just before its workload (shared machines drift: the
fraction compares a configuration with the machine as it was at the time). `--matmul-only` prints both rates.

Peak memory: on CPU, the growth of the process's peak resident set size (VmHWM, reset through
/proc/self/clear_refs after the model is built and warmed up) while the workload runs; on CUDA,
torch.cuda.max_memory_allocated above the memory allocated before the workload.

Token counts for the mixed job come from the real tokenizers (DNABERT-2's from the shared fixture
tokenizer.json when present, else bases / 4.5; the Nucleotide Transformer's standard 6-mer tokenizer), with
random token ids of those lengths fed to the models.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import torch

DNABERT2_TOKENIZER = Path(__file__).resolve().parents[2] / "shared/fixtures/dnabert2/tiny_a/tokenizer.json"
MODELS = {
    "dnabert2": {"config": "DnaBert2Config", "model": "DnaBert2Model", "full": (8, 512), "pad": 3},
    "nucleotide_transformer": {
        "config": "NucleotideTransformerConfig",
        "model": "NucleotideTransformerModel",
        "full": (4, 1000),
        "pad": 1,
    },
}


# ---------------------------------------------------------------------------------------------- measurements
def matmul_rates(device: str, dtype: torch.dtype, hidden: int) -> dict[str, float]:
    """FLOP/s of a (4096, hidden) x (hidden, 4 * hidden) matmul, best of 10: by `torch.mm` and by our `Linear`."""
    from multimolecule.modules import Linear

    left = torch.randn(4096, hidden, device=device, dtype=dtype)
    layer = Linear(hidden, 4 * hidden, bias=False, device=device, dtype=dtype)
    right = layer.weight.detach().t()
    kernels = {"torch.mm": lambda: torch.mm(left, right), "Linear": lambda: layer(left)}
    rates = {}
    with torch.inference_mode():
        for name, kernel in kernels.items():
            times = []
            for _ in range(10):
                synchronize(device)
                start = time.perf_counter()
                kernel()
                synchronize(device)
                times.append(time.perf_counter() - start)
            rates[name] = 2 * 4096 * hidden * 4 * hidden / min(times)
    return rates


def synchronize(device: str):
    if device == "cuda":
        torch.cuda.synchronize()


def current_rss() -> int:
    return peak_and_current_rss()[1]


def peak_and_current_rss() -> tuple[int, int]:
    """(VmHWM, VmRSS) of this process in bytes."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines() if ":" in line)
    return int(fields["VmHWM"].split()[0]) * 1024, int(fields["VmRSS"].split()[0]) * 1024


def reset_peak_memory(device: str) -> int:
    """Start measuring peak memory from now; returns the memory in use."""
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        return torch.cuda.memory_allocated()
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    return current_rss()


def peak_memory(device: str) -> int:
    if device == "cuda":
        return torch.cuda.max_memory_allocated()
    return peak_and_current_rss()[0]


def padded_batch(lengths: list[int], pad_id: int, device: str, generator: torch.Generator):
    input_ids = torch.full((len(lengths), max(lengths)), pad_id, dtype=torch.long)
    attention_mask = torch.zeros_like(input_ids)
    for row, length in enumerate(lengths):
        input_ids[row, :length] = torch.randint(5, 4000, (length,), generator=generator)
        attention_mask[row, :length] = 1
    return input_ids.to(device), attention_mask.to(device)


def attention_flops(lengths: list[int], hidden: int, layers: int) -> int:
    return sum(4 * length**2 * hidden * layers for length in lengths)


def run_worker(spec: dict) -> dict:
    """Build one model, warm it up, then time `spec["batches"]` (lists of sequence lengths) once."""
    import multimolecule

    info = MODELS[spec["model"]]
    device, dtype = spec["device"], getattr(torch, spec["dtype"])
    torch.manual_seed(0)
    config = getattr(multimolecule, info["config"])(**({"num_hidden_layers": 2} if spec["quick"] else {}))
    model_class = getattr(multimolecule, info["model"])
    model = model_class._from_config(config, attn_implementation=spec["attention"], dtype=dtype).to(device).eval()
    generator = torch.Generator().manual_seed(0)
    batches = [padded_batch(lengths, info["pad"], device, generator) for lengths in spec["batches"]]
    rates = matmul_rates(device, dtype, config.hidden_size)  # just before the workload: shared machines drift
    rate = max(rates.values())
    with torch.inference_mode():
        model(*padded_batch([64, 40], info["pad"], device, generator))  # warm-up: kernels, allocator, threads
        if spec["attention"] == "flex_attention":  # compile each token bucket before timing (steady state)
            from multimolecule.modules.flex_attention import token_bucket

            first_of_bucket = {token_bucket(sum(lengths)): index for index, lengths in enumerate(spec["batches"])}
            for index in sorted(first_of_bucket.values()):
                model(batches[index][0], attention_mask=batches[index][1])
        in_use = reset_peak_memory(device)
        synchronize(device)
        start = time.perf_counter()
        for input_ids, attention_mask in batches:
            model(input_ids, attention_mask=attention_mask)
        synchronize(device)
        seconds = time.perf_counter() - start
    lengths = [length for batch in spec["batches"] for length in batch]
    linear_weights = sum(
        module.weight.numel() for module in model.encoder.modules() if isinstance(module, torch.nn.Linear)
    )
    flops = 2 * linear_weights * sum(lengths) + attention_flops(lengths, config.hidden_size, config.num_hidden_layers)
    return {
        "seconds": seconds,
        "real_tokens": sum(lengths),
        "padded_tokens": sum(len(batch) * max(batch) for batch in spec["batches"]),
        "tokens_per_second": sum(lengths) / seconds,
        "peak_memory_mib": (peak_memory(device) - in_use) / 2**20,
        "flops": flops,
        "flops_per_second": flops / seconds,
        "matmul_flops_per_second": rate,
        "matmul_rates": rates,
        "matmul_fraction": flops / seconds / rate,
    }


def run_in_subprocess(spec: dict) -> dict:
    result = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(spec)], capture_output=True, text=True, check=False
    )
    if result.returncode:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------- the job
def random_sequences(count: int, shortest: int, longest: int) -> list[str]:
    rng = random.Random(0)
    return ["".join(rng.choices("ACGT", k=rng.randint(shortest, longest))) for _ in range(count)]


def load_tokenizer(model: str):
    """The model's tokenizer, or None (with a message) when it cannot be built here."""
    import multimolecule

    try:
        if model == "dnabert2":
            return multimolecule.DnaBert2Tokenizer.from_original(DNABERT2_TOKENIZER)
        return multimolecule.NucleotideTransformerTokenizer.standard()
    except (AttributeError, OSError) as error:
        print(f"[{model}] no tokenizer ({error}); token counts are approximated", file=sys.stderr)
        return None


def token_lengths(model: str, tokenizer, sequences: list[str]) -> list[int]:
    if tokenizer is None:
        bases_per_token = 4.5 if model == "dnabert2" else 6.0
        return [round(len(sequence) / bases_per_token) + 2 for sequence in sequences]
    return [len(ids) for ids in tokenizer(sequences)["input_ids"]]


def tokenizer_throughput(tokenizer, sequences: list[str]) -> float:
    """Bases per second of a batched call on the job's sequences, best of 3."""
    times = []
    for _ in range(3):
        start = time.perf_counter()
        tokenizer(sequences)
        times.append(time.perf_counter() - start)
    return sum(map(len, sequences)) / min(times)


def configurations(
    model: str, lengths: list[int], quick: bool, stride: int, attentions: list[str]
) -> list[tuple[str, str, list]]:
    """(name, attention, batches) for the full, mixed and long workloads; eager also runs unsorted batches."""
    batch_size, full_length = MODELS[model]["full"]
    if quick:
        batch_size, full_length = 2, 128
    full = [[full_length] * batch_size]
    ordered = sorted(lengths)
    sorted_batches = [ordered[i : i + 8] for i in range(0, len(ordered), 8)][::stride]
    # the same sequences in a random order: what padding costs when a job is not sorted
    shuffled = [length for batch in sorted_batches for length in batch]
    random.Random(0).shuffle(shuffled)
    unsorted_batches = [shuffled[i : i + 8] for i in range(0, len(shuffled), 8)]
    long_lengths = [256, 512] if quick else [1024, 2048, 4096, 8192]
    runs = []
    for attention in attentions:
        runs.append(("full", attention, full))
        runs.append(("mixed (sorted)", attention, sorted_batches))
        runs.append(("mixed (unsorted)", attention, unsorted_batches))
    for length in long_lengths:
        for attention in attentions:
            runs.append((f"long {length}", attention, [[length]]))
    return runs


def benchmark_model(model: str, args) -> dict | None:
    import multimolecule

    if not hasattr(multimolecule, MODELS[model]["config"]):
        print(f"[{model}] {MODELS[model]['config']} is not importable yet: skipped", file=sys.stderr)
        return None
    sequences = random_sequences(32 if args.quick else 256, 50, 600 if args.quick else 3000)
    tokenizer = load_tokenizer(model)
    lengths = token_lengths(model, tokenizer, sequences)
    results = {
        "tokenizer_bases_per_second": tokenizer_throughput(tokenizer, sequences) if tokenizer else None,
        "mixed_job": {"sequences": len(sequences), "tokens": sum(lengths), "timed_every": args.mixed_stride},
        "runs": [],
    }
    for name, attention, batches in configurations(model, lengths, args.quick, args.mixed_stride, args.attention):
        spec = {
            "model": model,
            "device": args.device,
            "dtype": args.dtype,
            "attention": attention,
            "batches": batches,
            "quick": args.quick,
        }
        measured = run_in_subprocess(spec)
        measured.update(workload=name, attention=attention)
        results["runs"].append(measured)
        print(row(model, measured), flush=True)
    return results


def row(model: str, measured: dict) -> str:
    if "error" in measured:
        return f"{model:24} {measured['workload']:18} {measured['attention']:6} error: {measured['error']}"
    return (
        f"{model:24} {measured['workload']:18} {measured['attention'][:6]:6} {measured['tokens_per_second']:10.1f} "
        f"{measured['peak_memory_mib']:10.0f} {measured['matmul_flops_per_second'] / 1e9:7.1f} "
        f"{measured['matmul_fraction']:8.1%} {measured['seconds']:8.1f}"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=[*MODELS, "all"], default="all")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--dtype", choices=["float32", "bfloat16"], default=None, help="float32 on CPU, else bf16")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument(
        "--attention", nargs="+", default=["sdpa", "eager"], help="attn_implementation values (default sdpa eager)"
    )
    parser.add_argument("--quick", action="store_true", help="2-layer models, tiny workloads: a smoke test")
    parser.add_argument("--mixed-stride", type=int, default=4, help="time every n-th batch of the mixed job")
    parser.add_argument("--matmul-only", action="store_true", help="print the matmul rate of each kernel and stop")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(run_worker(json.loads(args.worker))))
        return
    args.dtype = args.dtype or ("float32" if args.device == "cpu" else "bfloat16")
    if args.matmul_only:
        for hidden in (512, 768):
            rates = matmul_rates(args.device, getattr(torch, args.dtype), hidden)
            print(
                f"(4096, {hidden}) x ({hidden}, {4 * hidden}), {args.dtype}: "
                + ", ".join(f"{name} {rate / 1e9:.1f} GFLOP/s" for name, rate in rates.items())
            )
        return

    print(f"torch {torch.__version__}, {args.device}, {args.dtype}, {torch.get_num_threads()} threads", flush=True)
    print(
        f"{'model':24} {'workload':18} {'attn':6} {'tokens/s':>10} {'peak MiB':>10} {'GFLOP/s':>7} {'matmul%':>8} "
        f"{'s':>8}"
    )
    models = list(MODELS) if args.model == "all" else [args.model]
    report = {"device": args.device, "dtype": args.dtype, "threads": torch.get_num_threads(), "models": {}}
    for model in models:
        results = benchmark_model(model, args)
        if results is not None:
            report["models"][model] = results
            tokenizer_rate = results["tokenizer_bases_per_second"]
            print(f"{model}: tokenizer " + (f"{tokenizer_rate / 1e6:.2f} Mbases/s" if tokenizer_rate else "n/a"))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    main()
