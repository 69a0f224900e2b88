"""NTv3 on long inputs: one forward pass over a long random sequence, its time and peak memory.

    python benchmarks/ntv3_long_context.py [--bases 1048576] [--dtype float32|bfloat16] [--device cpu|cuda]
        [--hidden-size 256 --embed-dim 256 --num-hidden-layers 2 --num-attention-heads 8 --intermediate-size 1024]
        [--repeats 1]

Builds `NucleotideTransformerV3Model` with random weights (default: the published 8M configuration, 7 down
levels; give the sizes of a larger one), casts it to `--dtype`, and runs `--repeats` forward passes (no
gradients) over `--bases` random bases (A/C/G/T), after one warm-up pass on 1/8 of the length. Reports the mean
seconds per pass, bases per second, and the peak memory: `torch.cuda.max_memory_allocated` on a GPU, the
process's peak resident memory on the CPU (which includes the Python process, about 0.5 GB).
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from multimolecule import NucleotideTransformerV3Config, NucleotideTransformerV3Model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bases", type=int, default=2**20)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--hidden-size", type=int, default=256)
    parser.add_argument("--embed-dim", type=int, default=256)
    parser.add_argument("--num-hidden-layers", type=int, default=2)
    parser.add_argument("--num-attention-heads", type=int, default=8)
    parser.add_argument("--intermediate-size", type=int, default=1024)
    parser.add_argument("--num-downsamples", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    config = NucleotideTransformerV3Config(
        hidden_size=args.hidden_size,
        embed_dim=args.embed_dim,
        num_hidden_layers=args.num_hidden_layers,
        num_attention_heads=args.num_attention_heads,
        head_dim=args.embed_dim // args.num_attention_heads,
        intermediate_size=args.intermediate_size,
        num_downsamples=args.num_downsamples,
    )
    dtype = getattr(torch, args.dtype)
    model = NucleotideTransformerV3Model(config).to(args.device, dtype).eval()
    parameters = sum(parameter.numel() for parameter in model.parameters())
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(6, 10, (1, args.bases), generator=generator).to(args.device)  # A T C G

    with torch.no_grad():
        model(ids[:, : args.bases // 8])  # warm-up
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        for _ in range(args.repeats):
            output = model(ids).last_hidden_state
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        seconds = (time.perf_counter() - start) / args.repeats
    if args.device.startswith("cuda"):
        peak = torch.cuda.max_memory_allocated() / 2**30
        where = f"GPU ({torch.cuda.get_device_name()})"
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
        where = f"CPU ({torch.get_num_threads()} threads), process resident"
    print(
        f"{parameters / 1e6:.1f}M parameters, {args.bases:,} bases, {args.dtype}: {seconds:.2f} s per pass, "
        f"{args.bases / seconds / 1e3:.1f} kb/s; peak memory {peak:.2f} GiB on {where}; "
        f"output {tuple(output.shape)}, finite {bool(output.float().isfinite().all())}"
    )


if __name__ == "__main__":
    main()
