"""NTv3 on long inputs: forward passes over a long random sequence, their time and peak memory.

    python benchmarks/ntv3_long_context.py --size 650m --bases 1048576 --dtype bfloat16
    python benchmarks/ntv3_long_context.py --size 8m --bases 131072 --repeats 3
    python benchmarks/ntv3_long_context.py --size 8m --embed --bases 524288 --window 131072
    (options: --size 8m|100m|650m --bases N --dtype float32|bfloat16 --device cpu|cuda --repeats N
     --warmup-bases N --tower-chunk-size N --embed --window N --json out.json)

Builds `NucleotideTransformerV3Model` with random weights at one of the published sizes (`SIZES`), casts it to
`--dtype`, runs one warm-up pass over `--warmup-bases` bases, then `--repeats` timed passes over `--bases` random
bases (A/C/G/T), in eval mode under `torch.inference_mode()`. Reports the seconds per pass, bases per second, and
the peak memory of the timed passes: `torch.cuda.max_memory_allocated` on a GPU; on the CPU the process's peak
resident memory (VmHWM, reset through `/proc/self/clear_refs` after the warm-up, so it covers the timed passes and
what stays resident: the weights, the Python process), next to the whole process's peak (`ru_maxrss`, which also
covers building the model in fp32 before the cast). For an outside measurement of a fresh process, run it under
`/usr/bin/time -v` (its "Maximum resident set size").

With `--embed`, the model (with its masked-LM head, random weights, and the NTv3 tokenizer) is saved to a temporary
directory and `multimolecule.api.embed` (what `multimolecule embed` runs) embeds one random sequence of `--bases`
bases in windows of `--window` bases (stride: a whole window; one vector per sequence), `--repeats` times: bases
per second through the whole engine (tokenizing, batching, pooling), after a warm-up on one window.

The sizes: the published 8M configuration (`NucleotideTransformerV3Config()`) and the 100M and 650M ones, whose
dimensions are not in the configs we hold (see docs/ntv3.md, "Long inputs", for which values are published and
which are inferred). `100m` and `650m` are sized as those models, not their weights.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

import torch

from multimolecule import NucleotideTransformerV3Config, NucleotideTransformerV3Model

# Every size: 7 down levels, token embeddings of 16, a GLU feed-forward 4 × embed_dim wide, heads of embed_dim / heads.
SIZES = {
    "8m": dict(hidden_size=256, embed_dim=256, num_hidden_layers=2, num_attention_heads=8, head_dim=32),
    "100m": dict(hidden_size=768, embed_dim=768, num_hidden_layers=6, num_attention_heads=12, head_dim=64),
    "650m": dict(hidden_size=1536, embed_dim=1536, num_hidden_layers=12, num_attention_heads=24, head_dim=64),
}


def size_config(size: str, **overrides) -> NucleotideTransformerV3Config:
    """The configuration of a published size (random weights: `NucleotideTransformerV3Model(size_config("650m"))`).

    Example:
        >>> size_config("650m").channels
        [1536, 1536, 1536, 1536, 1536, 1536, 1536, 1536]
    """
    dimensions = SIZES[size]
    return NucleotideTransformerV3Config(intermediate_size=4 * dimensions["embed_dim"], **dimensions, **overrides)


def resident_gib(field: str = "VmHWM") -> float:
    """This process's resident memory (VmRSS) or its peak since the last reset (VmHWM), in GiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 2**20  # kB
    return float("nan")


def reset_resident_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def all_finite(output: torch.Tensor, chunk: int = 65536) -> bool:
    """Checked a chunk at a time: a float copy of a megabase of 1536-wide outputs would take 6 GiB."""
    return all(bool(output[:, start : start + chunk].isfinite().all()) for start in range(0, output.shape[1], chunk))


def log_progress(model: NucleotideTransformerV3Model) -> None:
    """Print, after each tower level and transformer layer, the seconds since the pass began and the resident
    memory (now and peak): a pass of many minutes shows where it is and where its memory peaks."""
    clock = {}
    model.register_forward_pre_hook(lambda module, inputs: clock.update(start=time.perf_counter()))

    def hook(name: str, module, inputs, output) -> None:
        output = output[0] if isinstance(output, tuple) else output
        print(
            f"  {time.perf_counter() - clock['start']:8.1f} s  {name:10} {tuple(output.shape)}  resident "
            f"{resident_gib('VmRSS'):.2f} GiB, peak {resident_gib('VmHWM'):.2f} GiB",
            flush=True,
        )

    for kind, blocks in (("down", model.down_blocks), ("layer", model.layers), ("up", model.up_blocks)):
        for index, block in enumerate(blocks):
            block.register_forward_hook(functools.partial(hook, f"{kind} {index}"))


def embed_rate(args, config: NucleotideTransformerV3Config) -> None:
    """`multimolecule.api.embed` over one random sequence of `--bases` bases, in windows of `--window` bases."""
    from multimolecule import NucleotideTransformerV3ForMaskedLM, NucleotideTransformerV3Tokenizer, api

    generator = torch.Generator().manual_seed(0)
    sequence = "".join("ACGT"[i] for i in torch.randint(0, 4, (args.bases,), generator=generator).tolist())
    with tempfile.TemporaryDirectory() as directory:
        torch.manual_seed(0)
        NucleotideTransformerV3ForMaskedLM(config).save_pretrained(directory)
        NucleotideTransformerV3Tokenizer.standard().save_pretrained(directory)
        options = dict(model=directory, window=args.window, stride=args.window, device=args.device, dtype=args.dtype)
        api.embed([sequence[: args.window]], **options)  # warm-up; the loaded model is kept for the calls below
        seconds = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            result = api.embed([sequence], **options)
            seconds.append(time.perf_counter() - start)
    mean = sum(seconds) / len(seconds)
    print(
        f"embed, {args.size}, {args.bases:,} bases in windows of {args.window:,}, {args.dtype} on {args.device} "
        f"({torch.get_num_threads()} threads): {mean:.1f} s ({', '.join(f'{s:.1f}' for s in seconds)}), "
        f"{args.bases / mean / 1e3:.2f} kb/s; embedding {tuple(result.embeddings.shape)}; load "
        f"{os.getloadavg()[0]:.1f}"
    )
    if args.json:
        record = {"embed": True, "size": args.size, "bases": args.bases, "window": args.window, "dtype": args.dtype}
        record.update(seconds=seconds, bases_per_second=args.bases / mean, torch=torch.__version__)
        with open(args.json, "a") as file:
            file.write(json.dumps(record) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="8m", choices=sorted(SIZES))
    parser.add_argument("--bases", type=int, default=2**20)
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--warmup-bases", type=int, default=8192)
    parser.add_argument("--tower-chunk-size", type=int, default=None)
    parser.add_argument("--embed", action="store_true", help="time `multimolecule.api.embed` instead")
    parser.add_argument("--window", type=int, default=131072, help="with --embed: bases per window")
    parser.add_argument("--progress", action="store_true", help="print each level's time and memory")
    parser.add_argument("--json", default=None, help="append the result as one JSON line to this file")
    args = parser.parse_args()

    overrides = {} if args.tower_chunk_size is None else {"tower_chunk_size": args.tower_chunk_size}
    config = size_config(args.size, **overrides)
    if args.embed:
        return embed_rate(args, config)
    cuda = args.device.startswith("cuda")
    dtype = getattr(torch, args.dtype)
    start = time.perf_counter()
    model = NucleotideTransformerV3Model(config).to(args.device, dtype).eval()
    build_seconds = time.perf_counter() - start
    parameters = sum(parameter.numel() for parameter in model.parameters())
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(6, 10, (1, args.bases), generator=generator).to(args.device)  # A T C G
    if args.progress:
        log_progress(model)

    with torch.inference_mode():
        model(ids[:, : args.warmup_bases])
        if cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        else:
            reset_resident_peak()
        seconds = []
        for index in range(args.repeats):
            start = time.perf_counter()
            output = model(ids).last_hidden_state
            if cuda:
                torch.cuda.synchronize()
            seconds.append(time.perf_counter() - start)
            if index < args.repeats - 1:  # free it before the next pass
                del output
        peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else resident_gib()
        finite = all_finite(output)
    process_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    where = (
        f"GPU ({torch.cuda.get_device_name()})"
        if cuda
        else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    )
    mean = sum(seconds) / len(seconds)
    result = {
        "size": args.size,
        "parameters": parameters,
        "bases": args.bases,
        "dtype": args.dtype,
        "device": where,
        "tower_chunk_size": config.tower_chunk_size,
        "seconds_per_pass": seconds,
        "bases_per_second": args.bases / mean,
        "peak_gib": peak,
        "process_peak_gib": process_peak,
        "build_seconds": build_seconds,
        "output_shape": list(output.shape),
        "finite": finite,
        "torch": torch.__version__,
    }
    print(
        f"{args.size} ({parameters / 1e6:.2f}M parameters), {args.bases:,} bases, {args.dtype} on {where}: "
        f"{mean:.1f} s per pass ({', '.join(f'{s:.1f}' for s in seconds)}), {args.bases / mean / 1e3:.2f} kb/s; "
        f"peak memory {peak:.2f} GiB during the passes ({'allocated' if cuda else 'resident'}), whole process "
        f"{process_peak:.2f} GiB resident; output {tuple(output.shape)}, finite {finite}"
    )
    if args.json:
        with open(args.json, "a") as file:
            file.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
